/**
 * The keys against what is stored: before a server serves (and before `secrets rotate` or `copy`
 * reads), the configured master keys must open the sealed secrets in the database.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../../config.js';
import { MasterKeyError } from '../../secrets/cipher.js';
import { openHashKey } from '../../secrets/hash-key.js';
import {
  type KeyringSource,
  keyFilePath,
  type ResolvedKeyring,
  resolveKeyring,
} from '../../secrets/keyring.js';
import { createSecretBox } from '../../secrets/secret-box.js';
import type { Database } from '../schema.js';
import { verifyHashKey } from './hash-key.js';
import { connectorKeyIds, readStoredKeys, type StoredKeys } from './rows.js';
import type { KeySample, StartReads } from './start-reads.js';

/**
 * Fails at once, before serving, when the configured keys cannot open the stored secrets: each
 * key id of a connector's secrets must be configured, and one connector per key id must open; so
 * must the hash key of the API keys.
 * Idempotency records are not a reason to refuse: one sealed with a key that is gone is
 * forgotten when its Idempotency-Key comes back (like an expired one), and all expire within a day.
 */
export async function verifyKeyring(
  db: Kysely<Database>,
  source: KeyringSource,
  stored?: StoredKeys,
  /** A sample per key id of `stored`, read with it (readStartState): not read again. */
  known?: ReadonlyMap<string, KeySample | undefined>,
): Promise<void> {
  const keyring = source.current();
  const box = createSecretBox(source);
  const keyIds = stored?.connectorKeyIds ?? (await connectorKeyIds(db));
  const hint =
    source.file !== undefined
      ? `restore the key file ${source.file} that belongs to this database, or set PLUGBOARD_MASTER_KEY to the key used before`
      : 'set PLUGBOARD_MASTER_KEY to the key used before, or add it to PLUGBOARD_PREVIOUS_MASTER_KEYS';
  // One sample a key id, read at once (on PostgreSQL one round trip for all), then checked in
  // order: the first key id that is missing or does not open is the one reported.
  const samples = await Promise.all(
    keyIds.map((keyId) =>
      known !== undefined
        ? known.get(keyId)
        : keyring.find(keyId)
          ? db
              .selectFrom('connectors')
              .select(['id', 'type', 'secrets', 'secret_key_id'])
              .where('secret_key_id', '=', keyId)
              .limit(1)
              .executeTakeFirst()
          : undefined,
    ),
  );
  keyIds.forEach((keyId, i) => {
    if (!keyring.find(keyId)) {
      throw new MasterKeyError(
        `the stored secrets were sealed with master key ${keyId}, which ${source.description} does not hold; ${hint}`,
      );
    }
    const sample = samples[i];
    if (sample?.secrets) {
      try {
        box.open(sample.id, sample.type, { sealed: sample.secrets, keyId });
      } catch {
        throw new MasterKeyError(
          `master key ${keyId} does not open the stored secrets of connector ${sample.id}; ${hint}`,
        );
      }
    }
  });
  // Without it no API key can be checked.
  if (stored === undefined) await verifyHashKey(db, source);
  else if (stored.hashKey) openHashKey(source, stored.hashKey);
}

/**
 * The keyring for a running database, checked: a key file is only created for a database that
 * holds no sealed secrets yet (a missing key file is otherwise an error, not a fresh key), and the
 * keys must open what is stored. Used by `serve` and `secrets rotate`.
 */
export async function openKeyring(
  config: Pick<Config, 'masterKey' | 'previousMasterKeys' | 'database'>,
  db: Kysely<Database>,
  /** What the start read at once (readStartState, PostgreSQL), used instead of reading it again. */
  read?: Pick<StartReads, 'stored' | 'samples'>,
): Promise<ResolvedKeyring & { readonly stored: StoredKeys }> {
  const stored = read?.stored ?? (await readStoredKeys(db));
  const { inUse } = stored;
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
  await verifyKeyring(db, resolved.source, stored, read?.samples);
  // What was read, for openHashing to use rather than read the hash key again.
  return { ...resolved, stored };
}
