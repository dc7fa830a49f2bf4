import type { Kysely } from 'kysely';

/**
 * The secret that API key hashes and Idempotency-Key fingerprints are keyed with (issue 11,
 * finding 2): 32 random bytes made once per database, sealed with the master key like a
 * connector's secrets (and re-sealed by `secrets rotate`), so it never changes when the master key
 * does. One row; the server creates it at first start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('hash_keys')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('sealed', 'text', (col) => col.notNull())
    .addColumn('master_key_id', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('hash_keys').execute();
}
