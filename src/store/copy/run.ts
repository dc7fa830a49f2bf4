import { type Kysely, sql } from 'kysely';
import type { DatabaseHandle } from '../database.js';
import { dialectOf } from '../dialect.js';
import { describeLocation } from '../location.js';
import type { Database } from '../schema.js';
import { verifyKeyring } from '../sealed/keyring-check.js';
import { planCopy, prepareCopy, type TablePlan } from './plan.js';
import { countRows, type Key, keyValue, type Row, rowsAfter } from './rows.js';
import { type CopyOptions, type CopyReport, TABLES, type TableReport, type TableSpec } from './types.js';
import { verifyCopy } from './verify.js';

/** The copied tables without their column types: the copy moves rows whatever their columns are. */
type LooseDatabase = Kysely<Record<string, Row>>;

/** Bound parameters per INSERT statement, well under SQLite's 32,766 and PostgreSQL's 65,535. */
const MAX_PARAMETERS = 10_000;

/**
 * Runs `work` on one connection of the source inside one read-only transaction: every read sees
 * the same snapshot, so the copy, its counts and its verification all describe the source as it
 * was when the copy began, even while servers keep writing to it. (On SQLite a plain, deferred
 * `begin`: a reader in WAL mode keeps its snapshot and blocks no writer.)
 */
async function inSnapshot<T>(source: DatabaseHandle, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  return source.db.connection().execute(async (db) => {
    const begin =
      dialectOf(db) === 'postgres' ? 'begin transaction isolation level repeatable read read only' : 'begin';
    await sql.raw(begin).execute(db);
    try {
      return await work(db);
    } finally {
      await sql
        .raw('rollback')
        .execute(db)
        .catch(() => {});
    }
  });
}

/** Inserts one batch in one transaction of the target; rows already there are skipped. Returns how many were new. */
async function insertBatch(target: DatabaseHandle, spec: TableSpec, rows: readonly Row[]): Promise<number> {
  const columns = Math.max(1, Object.keys(rows[0] ?? {}).length);
  const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns));
  return target.db.transaction().execute(async (trx) => {
    const loose = trx as unknown as LooseDatabase;
    let inserted = 0;
    for (let start = 0; start < rows.length; start += perStatement) {
      const result = await loose
        .insertInto(spec.table)
        .values(rows.slice(start, start + perStatement))
        .onConflict((oc) => oc.column(spec.key).doNothing())
        .executeTakeFirst();
      inserted += Number(result.numInsertedOrUpdatedRows ?? 0n);
    }
    return inserted;
  });
}

/**
 * Brings rows copied by an earlier run up to date with the source (every column but the key), a
 * batch per transaction of the target.
 */
async function refreshRows(
  source: Kysely<Database>,
  target: DatabaseHandle,
  spec: TableSpec,
  keys: readonly Key[],
  batchSize: number,
): Promise<number> {
  let refreshed = 0;
  // Keys are bound parameters of one `in (…)`: fewer than a large batch.
  const size = Math.min(batchSize, 500);
  for (let start = 0; start < keys.length; start += size) {
    const batch = keys.slice(start, start + size);
    const { rows } = await sql<Row>`select * from ${sql.table(spec.table)}
      where ${sql.ref(spec.key)} in (${sql.join(batch)})`.execute(source);
    await target.db.transaction().execute(async (trx) => {
      const loose = trx as unknown as LooseDatabase;
      for (const row of rows) {
        const { [spec.key]: key, ...columns } = row;
        const result = await loose
          .updateTable(spec.table)
          .set(columns)
          .where(spec.key, '=', key)
          .executeTakeFirst();
        refreshed += Number(result.numUpdatedRows);
      }
    });
  }
  return refreshed;
}

/** Moves each serial sequence past the largest copied key, so that the next row the service creates gets a new one. */
async function resetSequences(target: DatabaseHandle): Promise<string[]> {
  if (target.location.kind !== 'postgres') return [];
  const reset: string[] = [];
  for (const spec of TABLES.filter((t) => t.serial)) {
    await sql`select setval(pg_get_serial_sequence(${spec.table}, ${spec.key}),
        coalesce((select max(${sql.ref(spec.key)}) from ${sql.table(spec.table)}), 0) + 1, false)`.execute(
      target.db,
    );
    reset.push(`${spec.table}.${spec.key}`);
  }
  return reset;
}

/** Copies one table as planned: refreshes the stale rows, then inserts from the resume point on. */
async function copyTable(
  source: Kysely<Database>,
  target: DatabaseHandle,
  plan: TablePlan,
  batchSize: number,
  onProgress: CopyOptions['onProgress'],
): Promise<TableReport> {
  const { spec } = plan;
  let after = plan.resumeAfter;
  let done = after === undefined ? 0 : plan.targetRows;
  let copied = 0;
  const report = () =>
    onProgress?.({ phase: 'copy', table: spec.table, done, total: plan.sourceRows, copied });
  report();
  const refreshed = await refreshRows(source, target, spec, plan.stale, batchSize);
  for (;;) {
    const rows = await rowsAfter(source, spec, after, batchSize);
    const last = rows.at(-1);
    if (!last) break;
    copied += await insertBatch(target, spec, rows);
    done += rows.length;
    after = keyValue(last, spec);
    report();
  }
  return {
    table: spec.table,
    sourceRows: plan.sourceRows,
    alreadyThere: plan.targetRows,
    copied,
    refreshed,
    targetRows: await countRows(target.db, spec),
    identical: 0,
  };
}

/**
 * Copies `source` into `target` and verifies the result (verify.ts). Refuses (CopyRefusedError,
 * before any row is written) what plan.ts refuses. Resumable: each batch is one transaction in the
 * target and rows already there are skipped, so an interrupted copy is simply run again; the rerun
 * checks what is there, refreshes the rows that changed in the source meanwhile, and carries on
 * after the last one copied.
 */
export async function copyDatabase(
  source: DatabaseHandle,
  target: DatabaseHandle,
  options: CopyOptions = {},
): Promise<CopyReport> {
  const started = Date.now();
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError('batchSize must be a positive integer');
  const migrated = await prepareCopy(source, target);
  if (options.keyring) await verifyKeyring(source.db, options.keyring);

  return inSnapshot(source, async (snapshot) => {
    const { onProgress, keyring } = options;
    const plans = await planCopy(
      snapshot,
      target,
      describeLocation(source.location),
      batchSize,
      onProgress,
      options.force ?? false,
    );
    const copied: TableReport[] = [];
    for (const plan of plans) copied.push(await copyTable(snapshot, target, plan, batchSize, onProgress));
    const sequencesReset = await resetSequences(target);
    const { tables, counts, secrets, problems } = await verifyCopy(snapshot, target.db, copied, {
      batchSize,
      keyring,
      onProgress,
    });
    return {
      migrated,
      tables,
      counts,
      secrets: keyring ? secrets : undefined,
      sequencesReset,
      problems,
      elapsedMs: Date.now() - started,
    };
  });
}
