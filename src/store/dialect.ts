import {
  type ColumnDefinitionBuilder,
  type Kysely,
  PostgresAdapter,
  type SelectQueryBuilder,
  sql,
} from 'kysely';

/** The two backends. Everything that differs between them is decided here, by the open Kysely instance. */
export type Dialect = 'sqlite' | 'postgres';

// biome-ignore lint/suspicious/noExplicitAny: any schema: the dialect does not depend on it
export function dialectOf(db: Kysely<any>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * Locks the selected rows until the transaction ends (`FOR UPDATE`) on PostgreSQL, whose
 * transactions run at READ COMMITTED: a read-then-write would otherwise decide on a version that
 * another transaction is replacing. SQLite's transactions here begin IMMEDIATE and hold the whole
 * database's write lock already, and SQLite has no `FOR UPDATE`.
 */
// biome-ignore lint/suspicious/noExplicitAny: any query over any schema
export function forUpdate<Q extends SelectQueryBuilder<any, any, any>>(db: Kysely<any>, query: Q): Q {
  return dialectOf(db) === 'postgres' ? (query.forUpdate() as Q) : query;
}

/**
 * An advisory lock's key: locks are per database, not per schema, so the schema is part of the
 * name (two deployments, or two test apps, in one database do not hold up each other).
 */
function lockKey(name: string) {
  return sql`hashtext(current_schema() || ':' || ${name}::text)`;
}

/**
 * Serializes the rest of the transaction with every other transaction that takes the same lock
 * (a transaction-scoped advisory lock on PostgreSQL). SQLite's IMMEDIATE transactions are
 * serialized already.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema
export async function serializeOn(trx: Kysely<any>, name: string): Promise<void> {
  if (dialectOf(trx) === 'postgres') await sql`select pg_advisory_xact_lock(${lockKey(name)})`.execute(trx);
}

/**
 * Takes the same lock as `serializeOn` if nobody holds it, without waiting: false when another
 * transaction holds it. SQLite's IMMEDIATE transactions hold the database's write lock already,
 * so there it is always true.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema
export async function tryLockOn(trx: Kysely<any>, name: string): Promise<boolean> {
  if (dialectOf(trx) !== 'postgres') return true;
  const { rows } = await sql<{
    locked: boolean;
  }>`select pg_try_advisory_xact_lock(${lockKey(name)}) as locked`.execute(trx);
  return rows[0]?.locked === true;
}

/**
 * An integer primary key numbered by the database: `integer primary key autoincrement` on SQLite
 * (what the shipped migrations always produced there), `serial primary key` on PostgreSQL.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema
export function autoIncrementKey(db: Kysely<any>) {
  const postgres = dialectOf(db) === 'postgres';
  return {
    type: postgres ? 'serial' : 'integer',
    build: (col: ColumnDefinitionBuilder) => (postgres ? col.primaryKey() : col.primaryKey().autoIncrement()),
  } as const;
}
