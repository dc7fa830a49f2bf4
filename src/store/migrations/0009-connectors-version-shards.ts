import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect.js';

/**
 * PostgreSQL: an account's connectors version (migration 0004) in shards beside its one counter.
 * Every create and delete raised `accounts.connectors_version`, so each held the account's row
 * locked from that update to its commit, WAL flush included: an account's creates committed one
 * at a time, one flush each. Now a create raises one of VERSION_SHARDS rows (at random), so
 * concurrent creates commit together and share their flushes; deletes still raise the counter.
 * The version is the counter plus the sum of the shards: still raised by every create and delete,
 * read in one statement (src/store/connector-store.ts).
 * SQLite: nothing (its writes are serialized anyway; it keeps the one counter).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await db.schema
    .createTable('connectors_version_shards')
    .addColumn('account_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('shard', 'integer', (col) => col.notNull())
    .addColumn('version', 'bigint', (col) => col.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('connectors_version_shards_pkey', ['account_id', 'shard'])
    .execute();
  // The table is small and hot: keep its updates HOT (no index touches a changed column).
  await sql`alter table connectors_version_shards set (fillfactor = 50)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await db.schema.dropTable('connectors_version_shards').execute();
}
