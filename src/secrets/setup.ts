import { type Kysely, sql } from 'kysely';
import type { Config } from '../config.js';
import { IDEMPOTENCY_TTL_MS } from '../store/idempotency-store.js';
import type { Database } from '../store/schema.js';
import { MASTER_KEY_ID_LENGTH, MasterKeyError } from './cipher.js';
import { hashKeyMasterKeyId, verifyHashKey } from './hash-key.js';
import { ephemeralKeyring, type KeyringSource, keyringFromEnvironment, keyringFromFile } from './keyring.js';
import { createSecretBox } from './secret-box.js';

/** The key file of a SQLite database: beside it, named after it. */
export function keyFilePath(databasePath: string): string {
  return `${databasePath}.key`;
}

export interface ResolvedKeyring {
  readonly source: KeyringSource;
  /** Set when a new key file was written (the caller logs where, never the key). */
  readonly createdFile?: string;
}

/**
 * Where the master keys come from: PLUGBOARD_MASTER_KEY (and PLUGBOARD_PREVIOUS_MASTER_KEYS) when
 * set; else the key file beside the SQLite database, created on first use; an in-memory key for
 * an in-memory database.
 */
export function resolveKeyring(
  config: Pick<Config, 'masterKey' | 'previousMasterKeys' | 'database'>,
  { createFile = true }: { createFile?: boolean } = {},
): ResolvedKeyring {
  if (config.masterKey !== undefined) {
    return { source: keyringFromEnvironment(config.masterKey, config.previousMasterKeys) };
  }
  if (config.previousMasterKeys !== undefined) {
    throw new MasterKeyError(
      'PLUGBOARD_PREVIOUS_MASTER_KEYS is set but PLUGBOARD_MASTER_KEY is not; set both',
    );
  }
  if (config.database.kind === 'postgres') {
    throw new MasterKeyError(
      'PLUGBOARD_MASTER_KEY is not set: with PostgreSQL there is no key file, because every instance must seal ' +
        'and open secrets with the same key; set PLUGBOARD_MASTER_KEY to 32 random bytes in base64 ' +
        '(e.g. the output of: openssl rand -base64 32), the same on every instance',
    );
  }
  if (config.database.path === ':memory:') return { source: ephemeralKeyring() };
  const path = keyFilePath(config.database.path);
  const { source, created } = keyringFromFile(path, { create: createFile });
  return created ? { source, createdFile: path } : { source };
}

/** Ids of the master keys that sealed connectors' secrets, by index seeks (cheap on a million rows). */
export async function connectorKeyIds(db: Kysely<Database>): Promise<string[]> {
  const ids: string[] = [];
  let after = '';
  for (;;) {
    const row = await db
      .selectFrom('connectors')
      .select('secret_key_id')
      .where('secret_key_id', '>', after)
      .orderBy('secret_key_id')
      .limit(1)
      .executeTakeFirst();
    if (!row?.secret_key_id) return ids;
    ids.push(row.secret_key_id);
    after = row.secret_key_id;
  }
}

/**
 * Ids of the master keys that sealed the stored responses of live idempotency records (a day's
 * worth of creates at most; expired ones are pruned and never replayed).
 */
export async function recordKeyIds(db: Kysely<Database>, now = Date.now()): Promise<string[]> {
  const rows = await db
    .selectFrom('idempotency_keys')
    .select(sql<string>`substr(response, 1, ${sql.lit(MASTER_KEY_ID_LENGTH)})`.as('key_id'))
    .distinct()
    .where('state', '=', 'done')
    .where('response', 'is not', null)
    .where('created_at', '>=', new Date(now - IDEMPOTENCY_TTL_MS).toISOString())
    .execute();
  return rows.map((row) => row.key_id).sort();
}

/** Ids of the master keys that anything stored still needs: connectors' secrets, idempotent responses, the hash key. */
export async function keyIdsInUse(db: Kysely<Database>): Promise<string[]> {
  const hashKey = await hashKeyMasterKeyId(db);
  const ids = new Set([
    ...(await connectorKeyIds(db)),
    ...(await recordKeyIds(db)),
    ...(hashKey === undefined ? [] : [hashKey]),
  ]);
  return [...ids].sort();
}

/**
 * Fails at once, before serving, when the configured keys cannot open the stored secrets: each
 * key id of a connector's secrets must be configured, and one connector per key id must open; so
 * must the hash key of the API keys.
 * Idempotency records are not a reason to refuse: one sealed with a key that is gone is
 * forgotten when its Idempotency-Key comes back (like an expired one), and all expire within a day.
 */
export async function verifyKeyring(db: Kysely<Database>, source: KeyringSource): Promise<void> {
  const keyring = source.current();
  const box = createSecretBox(source);
  for (const keyId of await connectorKeyIds(db)) {
    const hint =
      source.file !== undefined
        ? `restore the key file ${source.file} that belongs to this database, or set PLUGBOARD_MASTER_KEY to the key used before`
        : 'set PLUGBOARD_MASTER_KEY to the key used before, or add it to PLUGBOARD_PREVIOUS_MASTER_KEYS';
    if (!keyring.find(keyId)) {
      throw new MasterKeyError(
        `the stored secrets were sealed with master key ${keyId}, which ${source.description} does not hold; ${hint}`,
      );
    }
    const sample = await db
      .selectFrom('connectors')
      .select(['id', 'type', 'secrets', 'secret_key_id'])
      .where('secret_key_id', '=', keyId)
      .limit(1)
      .executeTakeFirst();
    if (sample?.secrets) {
      try {
        box.open(sample.id, sample.type, { sealed: sample.secrets, keyId });
      } catch {
        throw new MasterKeyError(
          `master key ${keyId} does not open the stored secrets of connector ${sample.id}; ${hint}`,
        );
      }
    }
  }
  // Without it no API key can be checked.
  await verifyHashKey(db, source);
}

/**
 * The keyring for a running database, checked: a key file is only created for a database that
 * holds no sealed secrets yet (a missing key file is otherwise an error, not a fresh key), and the
 * keys must open what is stored. Used by `serve` and `secrets rotate`.
 */
export async function openKeyring(
  config: Pick<Config, 'masterKey' | 'previousMasterKeys' | 'database'>,
  db: Kysely<Database>,
): Promise<ResolvedKeyring> {
  const inUse = await keyIdsInUse(db);
  let resolved: ResolvedKeyring;
  try {
    resolved = resolveKeyring(config, { createFile: inUse.length === 0 });
  } catch (error) {
    if (
      error instanceof MasterKeyError &&
      inUse.length > 0 &&
      config.masterKey === undefined &&
      config.database.kind === 'sqlite'
    ) {
      throw new MasterKeyError(
        `${error.message}, but the database holds secrets sealed with master key ${inUse.join(', ')}; ` +
          `restore the key file ${keyFilePath(config.database.path)} from your backup, or set PLUGBOARD_MASTER_KEY to that key`,
      );
    }
    throw error;
  }
  await verifyKeyring(db, resolved.source);
  return resolved;
}
