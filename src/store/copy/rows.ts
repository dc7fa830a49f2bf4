import { type Expression, type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect.js';
import type { Database } from '../schema.js';
import type { TableSpec } from './types.js';

/** A row of any copied table, every column, as the driver returns it. */
export type Row = Record<string, unknown>;
/** A primary key value. */
export type Key = string | number;

/**
 * The key as an expression to compare and order by. Text keys are compared byte-wise on both
 * backends (SQLite's BINARY, PostgreSQL's "C"): a database collation such as en_US orders
 * `key_a…` and `key_B…` differently, and the resume point found in one database must mean the same
 * in the other. (On PostgreSQL the "C" order cannot use the primary key index; api_keys is small.)
 */
function keyOf(db: Kysely<Database>, spec: TableSpec): Expression<unknown> {
  return spec.textKey && dialectOf(db) === 'postgres'
    ? sql`${sql.ref(spec.key)} collate "C"`
    : sql.ref(spec.key);
}

export function keyValue(row: Row, spec: TableSpec): Key {
  const value = row[spec.key];
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new Error(`${spec.table} has a row without a ${spec.key}`);
  }
  return value;
}

/** Up to `limit` rows after `after` (from the start when unset), in key order, every column. */
export async function rowsAfter(
  db: Kysely<Database>,
  spec: TableSpec,
  after: Key | undefined,
  limit: number,
): Promise<Row[]> {
  const key = keyOf(db, spec);
  const where = after === undefined ? sql`` : sql`where ${key} > ${after}`;
  const { rows } =
    await sql<Row>`select * from ${sql.table(spec.table)} ${where} order by ${key} limit ${limit}`.execute(
      db,
    );
  return rows;
}

/** The rows with keys from `first` to `last`, every column. */
async function rowsBetween(db: Kysely<Database>, spec: TableSpec, first: Key, last: Key): Promise<Row[]> {
  const key = keyOf(db, spec);
  const { rows } =
    await sql<Row>`select * from ${sql.table(spec.table)} where ${key} >= ${first} and ${key} <= ${last}`.execute(
      db,
    );
  return rows;
}

export async function countRows(db: Kysely<Database>, spec: TableSpec, upTo?: Key): Promise<number> {
  const where = upTo === undefined ? sql`` : sql`where ${keyOf(db, spec)} <= ${upTo}`;
  const { rows } = await sql<{
    n: number | string;
  }>`select count(*) as n from ${sql.table(spec.table)} ${where}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

export async function countByAccount(db: Kysely<Database>, spec: TableSpec): Promise<Map<number, number>> {
  const { rows } = await sql<{ account: number | string; n: number | string }>`
    select account_id as account, count(*) as n from ${sql.table(spec.table)} group by account_id`.execute(
    db,
  );
  return new Map(rows.map((row) => [Number(row.account), Number(row.n)]));
}

/** Values as the two backends return them (numbers, text, null), made comparable across both. */
function comparable(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** The names of the columns whose values differ (never the values: they may be sealed secrets or hashes). */
export function differingColumns(a: Row, b: Row): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((name) => comparable(a[name]) !== comparable(b[name])).sort();
}

/** A batch of one database's rows, with the other database's row of the same key, if it has one. */
export interface PairedBatch {
  readonly rows: readonly Row[];
  readonly last: Key;
  counterpart(row: Row): Row | undefined;
}

/**
 * Every row of `spec.table` in `from`, a batch at a time in key order, each batch with the rows of
 * `other` in its key range: how the plan compares the target with the source, and the
 * verification the source with the target.
 */
export async function* pairedBatches(
  from: Kysely<Database>,
  other: Kysely<Database>,
  spec: TableSpec,
  batchSize: number,
): AsyncGenerator<PairedBatch> {
  let after: Key | undefined;
  for (;;) {
    const rows = await rowsAfter(from, spec, after, batchSize);
    const first = rows[0];
    const last = rows.at(-1);
    if (!first || !last) return;
    const others = new Map(
      (await rowsBetween(other, spec, keyValue(first, spec), keyValue(last, spec))).map((row) => [
        String(keyValue(row, spec)),
        row,
      ]),
    );
    after = keyValue(last, spec);
    yield { rows, last: after, counterpart: (row) => others.get(String(keyValue(row, spec))) };
  }
}
