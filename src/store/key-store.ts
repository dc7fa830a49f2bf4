import type { Kysely } from 'kysely';
import { generateApiKey, generateKeyId } from '../auth/api-keys.js';
import { apiKeyDigest, type Hashing, KEYED_PREFIX } from '../secrets/hash-key.js';
import { serializeOn } from './dialect.js';
import { nowIso } from './ids.js';
import type { Database, KeyRole } from './schema.js';
import { withoutLockWait } from './sqlite-database.js';

/** What a request authenticated with a key may act as. */
export interface KeyPrincipal {
  readonly keyId: string;
  readonly keyHash: string;
  readonly accountId: number;
  readonly accountName: string;
  readonly role: KeyRole;
  readonly label: string;
  /** When the key stops working; null for never. */
  readonly expiresAt: string | null;
}

export interface KeyListing {
  readonly id: string;
  readonly label: string;
  readonly account: string;
  readonly role: KeyRole;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
  readonly expiresAt: string | null;
}

export interface CreatedKey {
  readonly id: string;
  /** The key itself: shown once, never stored. */
  readonly secret: string;
}

export type RevokeOutcome = 'revoked' | 'already-revoked' | 'unknown';
export type EnsureOutcome = 'present' | 'created' | 'reinstated';

export interface KeyStore {
  /** The stored (keyed) hash of a key: what the principal carries and a cache may key by. */
  hash(secret: string): string;
  /**
   * The key with this value unless it is revoked (an expired key is returned: the caller says so).
   * A row that still holds the unkeyed hash of an earlier version is found too, and rewritten keyed.
   */
  findActive(secret: string): Promise<KeyPrincipal | undefined>;
  /** Rewrites every stored unkeyed key hash keyed (no plaintext needed); how many. */
  keyUnkeyedHashes(known?: readonly { readonly id: string; readonly key_hash: string }[]): Promise<number>;
  create(account: string, role: KeyRole, label: string, expiresAt?: string): Promise<CreatedKey>;
  /**
   * Makes sure a write key with exactly this value exists and is active in `account`
   * (PLUGBOARD_API_KEY). Says whether it was already there, had to be created, or was revoked,
   * expired, read-only or in another account and is an active write key of `account` again.
   */
  ensure(account: string, secret: string, label: string): Promise<EnsureOutcome>;
  /** A write key in `account`, made only when no key exists at all (first start); undefined otherwise. */
  createFirst(account: string, label: string): Promise<CreatedKey | undefined>;
  list(account?: string): Promise<KeyListing[]>;
  revoke(id: string): Promise<RevokeOutcome>;
  touch(keyId: string, at: string): Promise<void>;
}

/** Serializes the start-up key creations (PLUGBOARD_API_KEY, the first key) of servers starting together. */
const KEY_CREATION_LOCK = 'plugboard:api-keys';

/** The id of the named account, created on first use. */
async function accountIdOf(db: Kysely<Database>, name: string): Promise<number> {
  await db
    .insertInto('accounts')
    .values({ name, created_at: nowIso() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('accounts').select('id').where('name', '=', name).executeTakeFirstOrThrow();
  return row.id;
}

async function insertKey(
  trx: Kysely<Database>,
  hashing: Hashing,
  account: string,
  role: KeyRole,
  label: string,
  expiresAt?: string,
): Promise<CreatedKey> {
  const secret = generateApiKey();
  const id = generateKeyId();
  await trx
    .insertInto('api_keys')
    .values({
      id,
      account_id: await accountIdOf(trx, account),
      role,
      label,
      key_hash: hashing.apiKey(secret),
      created_at: nowIso(),
      last_used_at: null,
      revoked_at: null,
      expires_at: expiresAt ?? null,
    })
    .execute();
  return { id, secret };
}

/**
 * The API keys, hashed with `hashing` (src/secrets/hash-key.ts). Without it only `list`, `revoke`
 * and `touch` work (`plugboard keys list` and `revoke` need no master key); the others throw.
 */
export function createKeyStore(db: Kysely<Database>, hashing?: Hashing): KeyStore {
  const keyed = (): Hashing => {
    if (!hashing) throw new Error('this key store was opened without the hash key; open it with openHashing');
    return hashing;
  };
  /** Rewrites a row's unkeyed hash keyed, only while it holds `digest`. */
  const rewrite = (on: Kysely<Database>, id: string, digest: string, keyHash: string) =>
    on.updateTable('api_keys').set({ key_hash: keyHash }).where('id', '=', id).where('key_hash', '=', digest);

  return {
    hash: (secret) => keyed().apiKey(secret),

    async findActive(secret) {
      const keyHash = keyed().apiKey(secret);
      const digest = apiKeyDigest(secret);
      const row = await db
        .selectFrom('api_keys')
        .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
        .select([
          'api_keys.id as keyId',
          'api_keys.key_hash as keyHash',
          'api_keys.account_id as accountId',
          'accounts.name as accountName',
          'api_keys.role as role',
          'api_keys.label as label',
          'api_keys.expires_at as expiresAt',
        ])
        .where('api_keys.key_hash', 'in', [keyHash, digest])
        .where('api_keys.revoked_at', 'is', null)
        .executeTakeFirst();
      if (!row) return undefined;
      if (row.keyHash === digest) {
        // Stored by an earlier version (or written by one since): keyed now, best effort and
        // without waiting for SQLite's write lock; the next use tries again.
        await withoutLockWait(db, rewrite(db, row.keyId, digest, keyHash)).catch(() => {});
      }
      return { ...row, keyHash };
    },

    async keyUnkeyedHashes(known) {
      const { apiKeyFromDigest } = keyed();
      const rows =
        known ??
        (await db
          .selectFrom('api_keys')
          .select(['id', 'key_hash'])
          .where('key_hash', 'not like', `${KEYED_PREFIX}%`)
          .execute());
      let rewritten = 0;
      for (const row of rows) {
        const result = await db
          .updateTable('api_keys')
          .set({ key_hash: apiKeyFromDigest(row.key_hash) })
          .where('id', '=', row.id)
          .where('key_hash', '=', row.key_hash)
          .executeTakeFirst();
        if (result.numUpdatedRows > 0n) rewritten++;
      }
      return rewritten;
    },

    async create(account, role, label, expiresAt) {
      const hashing = keyed();
      return db.transaction().execute((trx) => insertKey(trx, hashing, account, role, label, expiresAt));
    },

    async ensure(account, secret, label) {
      const keyHash = keyed().apiKey(secret);
      const digest = apiKeyDigest(secret);
      // One transaction, serialized: several servers starting at once with the same
      // PLUGBOARD_API_KEY must not race to insert it (the loser failed on the unique hash).
      return db.transaction().execute(async (trx) => {
        await serializeOn(trx, KEY_CREATION_LOCK);
        const existing = await trx
          .selectFrom('api_keys')
          .select(['id', 'revoked_at', 'role', 'expires_at', 'account_id', 'key_hash'])
          .where('key_hash', 'in', [keyHash, digest])
          .executeTakeFirst();
        if (existing && existing.key_hash !== keyHash)
          await rewrite(trx, existing.id, digest, keyHash).execute();
        const owner = await accountIdOf(trx, account);
        const usable =
          existing !== undefined &&
          existing.revoked_at === null &&
          existing.role === 'write' &&
          existing.account_id === owner &&
          (existing.expires_at === null || Date.parse(existing.expires_at) > Date.now());
        if (usable) return 'present';
        if (existing) {
          await trx
            .updateTable('api_keys')
            .set({ revoked_at: null, expires_at: null, role: 'write', account_id: owner })
            .where('id', '=', existing.id)
            .execute();
          return 'reinstated';
        }
        await trx
          .insertInto('api_keys')
          .values({
            id: generateKeyId(),
            account_id: owner,
            role: 'write',
            label,
            key_hash: keyHash,
            created_at: nowIso(),
            last_used_at: null,
            revoked_at: null,
            expires_at: null,
          })
          .execute();
        return 'created';
      });
    },

    async createFirst(account, label) {
      const hashing = keyed();
      return db.transaction().execute(async (trx) => {
        await serializeOn(trx, KEY_CREATION_LOCK);
        const row = await trx.selectFrom('api_keys').select('id').limit(1).executeTakeFirst();
        if (row) return undefined;
        return insertKey(trx, hashing, account, 'write', label);
      });
    },

    async list(account) {
      let query = db
        .selectFrom('api_keys')
        .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
        .select([
          'api_keys.id as id',
          'api_keys.label as label',
          'accounts.name as account',
          'api_keys.role as role',
          'api_keys.created_at as createdAt',
          'api_keys.last_used_at as lastUsedAt',
          'api_keys.revoked_at as revokedAt',
          'api_keys.expires_at as expiresAt',
        ])
        .orderBy('api_keys.created_at')
        .orderBy('api_keys.id');
      if (account !== undefined) query = query.where('accounts.name', '=', account);
      return query.execute();
    },

    async revoke(id) {
      const row = await db
        .selectFrom('api_keys')
        .select('revoked_at')
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) return 'unknown';
      if (row.revoked_at !== null) return 'already-revoked';
      // Compare-and-set: of two revokes at once, one revokes and the other says it already was.
      const outcome = await db
        .updateTable('api_keys')
        .set({ revoked_at: nowIso() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return outcome.numUpdatedRows > 0n ? 'revoked' : 'already-revoked';
    },

    async touch(keyId, at) {
      // Best effort, never a wait: while another process holds SQLite's write lock this fails at
      // once with SQLITE_BUSY instead of queueing behind it (the caller skips it).
      await withoutLockWait(db, db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', keyId));
    },
  };
}
