/**
 * The one row of `hash_keys`: the database's hash key (src/secrets/hash-key.ts), sealed with a
 * master key. Read and made on first use, re-sealed by rotation, checked at start.
 */
import type { Kysely } from 'kysely';
import {
  createHashing,
  generateHashKey,
  type Hashing,
  openHashKey,
  type StoredHashKey,
  sealHashKey,
} from '../../secrets/hash-key.js';
import type { KeyringSource } from '../../secrets/keyring.js';
import type { Database } from '../schema.js';

/** The one row of `hash_keys`. */
export const HASH_KEY_ROW = 'v1';

/** The sealed hash key, if the database has one yet. */
export async function readHashKey(db: Kysely<Database>): Promise<StoredHashKey | undefined> {
  const row = await db
    .selectFrom('hash_keys')
    .select(['sealed', 'master_key_id'])
    .where('id', '=', HASH_KEY_ROW)
    .executeTakeFirst();
  return row && { sealed: row.sealed, masterKeyId: row.master_key_id };
}

/**
 * Stores `key` unless the database has a hash key already (another server or command made it at
 * the same moment); returns the one stored, which the caller must use.
 */
export async function storeHashKeyIfNone(db: Kysely<Database>, key: StoredHashKey): Promise<StoredHashKey> {
  await db
    .insertInto('hash_keys')
    .values({
      id: HASH_KEY_ROW,
      sealed: key.sealed,
      master_key_id: key.masterKeyId,
      created_at: new Date().toISOString(),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const stored = await readHashKey(db);
  if (!stored) throw new Error('the hash key was stored but cannot be read back');
  return stored;
}

/** Replaces the sealed hash key, only while it is still `current` (compare-and-set); whether it did. */
export async function replaceHashKey(
  db: Kysely<Database>,
  current: StoredHashKey,
  next: StoredHashKey,
): Promise<boolean> {
  const result = await db
    .updateTable('hash_keys')
    .set({ sealed: next.sealed, master_key_id: next.masterKeyId })
    .where('id', '=', HASH_KEY_ROW)
    .where('sealed', '=', current.sealed)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * The database's hashing, its hash key made and stored on first use (by whichever server or command
 * comes first). `known`: the hash key as just read (openKeyring's `stored`), not read again.
 */
export async function openHashing(
  db: Kysely<Database>,
  source: KeyringSource,
  known?: { readonly hashKey: StoredHashKey | undefined },
): Promise<Hashing> {
  const read = known === undefined ? await readHashKey(db) : known.hashKey;
  const stored = read ?? (await storeHashKeyIfNone(db, sealHashKey(source, generateHashKey())));
  return createHashing(openHashKey(source, stored));
}

/**
 * Re-seals the hash key under the primary master key when it is under another (`secrets rotate`);
 * the hash key itself, and so every stored hash, stays the same. Says whether it was under another
 * key (it is re-sealed unless a concurrent run did it first).
 */
export async function resealHashKey(db: Kysely<Database>, source: KeyringSource): Promise<boolean> {
  const stored = await readHashKey(db);
  if (!stored || stored.masterKeyId === source.current().primary.id) return false;
  await replaceHashKey(db, stored, sealHashKey(source, openHashKey(source, stored)));
  return true;
}

/** The id of the master key that seals the hash key, if there is one yet. */
export async function hashKeyMasterKeyId(db: Kysely<Database>): Promise<string | undefined> {
  return (await readHashKey(db))?.masterKeyId;
}

/** Opens the stored hash key with the configured keys (a MasterKeyError if none does); nothing when there is none yet. */
export async function verifyHashKey(db: Kysely<Database>, source: KeyringSource): Promise<void> {
  const stored = await readHashKey(db);
  if (stored) openHashKey(source, stored);
}
