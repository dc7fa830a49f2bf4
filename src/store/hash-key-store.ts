import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The one row of `hash_keys`. */
export const HASH_KEY_ROW = 'v1';

export interface StoredHashKey {
  readonly sealed: string;
  readonly masterKeyId: string;
}

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
