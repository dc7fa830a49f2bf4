import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { type Expression, type Kysely, sql } from 'kysely';
import type { KeyringSource } from '../secrets/keyring.js';
import { createSecretBox } from '../secrets/secret-box.js';
import { verifyKeyring } from '../secrets/setup.js';
import { type DatabaseHandle, migrateToLatest } from './database.js';
import { dialectOf } from './dialect.js';
import { describeLocation } from './location.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

/**
 * `plugboard copy`: one database's accounts, API keys (and the hash key they are keyed with),
 * connectors and audit trail into another
 * (SQLite to PostgreSQL above all, but any direction), as an exact copy: every column, the same
 * ids and sequence numbers, sealed secrets byte for byte (they stay valid: their authenticated
 * data is the connector's id and type, which do not change).
 *
 * Idempotency keys are not copied: they only matter for 24 hours, and a replayed response is
 * sealed like a secret, which is not worth carrying across a move.
 */

/** The tables copied, in an order that satisfies their foreign keys (everything references accounts). */
export const COPIED_TABLES = ['accounts', 'api_keys', 'connectors', 'audit_events', 'hash_keys'] as const;
export type CopiedTable = (typeof COPIED_TABLES)[number];

interface TableSpec {
  readonly table: CopiedTable;
  /** The primary key: batches are read in its order, and a rerun resumes after the target's largest. */
  readonly key: string;
  /** A text key, ordered byte-wise on both backends (see keyOf). */
  readonly textKey: boolean;
  /** A serial key on PostgreSQL, whose sequence must be moved past the copied rows. */
  readonly serial: boolean;
  /** Counted per account in the verification. */
  readonly perAccount: boolean;
  /**
   * The columns that say which row it is, beside the key. A target row that agrees with the
   * source's on these is the same row, copied earlier (its other columns may have changed in the
   * source since: it is refreshed); one that does not is other data, and the copy is refused.
   */
  readonly identity: readonly string[];
}

const TABLES: readonly TableSpec[] = [
  {
    table: 'accounts',
    key: 'id',
    textKey: false,
    serial: true,
    perAccount: false,
    identity: ['name', 'created_at'],
  },
  {
    table: 'api_keys',
    key: 'id',
    textKey: true,
    serial: false,
    perAccount: true,
    identity: ['account_id', 'key_hash', 'created_at'],
  },
  {
    table: 'connectors',
    key: 'seq',
    textKey: false,
    serial: true,
    perAccount: true,
    identity: ['id', 'account_id', 'type', 'created_at'],
  },
  {
    table: 'audit_events',
    key: 'seq',
    textKey: false,
    serial: true,
    perAccount: true,
    identity: ['id', 'account_id', 'at'],
  },
  {
    // The key the API key hashes are keyed with, sealed as stored: without it no copied key works.
    table: 'hash_keys',
    key: 'id',
    textKey: true,
    serial: false,
    perAccount: false,
    identity: ['created_at'],
  },
];

export interface CopyProgress {
  /** `check`: comparing what the target already holds; `copy`; `verify`: comparing both afterwards. */
  readonly phase: 'check' | 'copy' | 'verify';
  readonly table: CopiedTable;
  /** Source rows dealt with so far (in `copy`, those a resumed run found in place included). */
  readonly done: number;
  readonly total: number;
  /** Rows this run inserted into the target so far (`copy`). */
  readonly copied: number;
}

export interface CopyOptions {
  /** Rows per batch; each batch is one transaction in the target. */
  readonly batchSize?: number;
  /** Called as each table starts and after each batch; an exception stops the copy (it can be resumed). */
  readonly onProgress?: (progress: CopyProgress) => void;
  /** The source's master keys: checked before anything is copied, then every copied secret is opened with them. */
  readonly keyring?: KeyringSource;
}

export interface TableReport {
  readonly table: CopiedTable;
  readonly sourceRows: number;
  /** Rows the target held before this run (an interrupted earlier copy). */
  readonly alreadyThere: number;
  /** Rows this run inserted. */
  readonly copied: number;
  /** Rows copied by an earlier run that had changed in the source since, updated by this run. */
  readonly refreshed: number;
  readonly targetRows: number;
  /** Source rows found in the target with every column equal. */
  readonly identical: number;
}

export interface CountCheck {
  readonly table: CopiedTable;
  /** Unset: the whole table. */
  readonly account?: { readonly id: number; readonly name: string };
  readonly source: number;
  readonly target: number;
}

export interface SecretsCheck {
  /** Connectors in the target whose sealed secrets opened under the source's keys. */
  readonly opened: number;
  /** Ids of those that did not (at most a few). */
  readonly failed: readonly string[];
  readonly failedCount: number;
}

export interface CopyReport {
  readonly migrated: MigrationsApplied;
  readonly tables: readonly TableReport[];
  readonly counts: readonly CountCheck[];
  /** Unset when no keyring was given. */
  readonly secrets: SecretsCheck | undefined;
  /** PostgreSQL sequences moved past the copied rows (`accounts.id`, …); empty for a SQLite target. */
  readonly sequencesReset: readonly string[];
  /** What makes the target differ from the source; empty when the copy is verified. */
  readonly problems: readonly string[];
  readonly elapsedMs: number;
}

export interface MigrationsApplied {
  readonly source: readonly string[];
  readonly target: readonly string[];
}

/** A copy that must not start (nothing has been copied): the message says why and what to do. */
export class CopyRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyRefusedError';
  }
}

type Row = Record<string, unknown>;
type Key = string | number;
/** The copied tables without their column types: the copy moves rows whatever their columns are. */
type LooseDatabase = Kysely<Record<string, Row>>;

const MAX_LISTED = 5;
/** Bound parameters per INSERT statement, well under SQLite's 32,766 and PostgreSQL's 65,535. */
const MAX_PARAMETERS = 10_000;

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

function keyValue(row: Row, spec: TableSpec): Key {
  const value = row[spec.key];
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new Error(`${spec.table} has a row without a ${spec.key}`);
  }
  return value;
}

/** Up to `limit` rows after `after` (from the start when unset), in key order, every column. */
async function rowsAfter(
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

async function countRows(db: Kysely<Database>, spec: TableSpec, upTo?: Key): Promise<number> {
  const where = upTo === undefined ? sql`` : sql`where ${keyOf(db, spec)} <= ${upTo}`;
  const { rows } = await sql<{
    n: number | string;
  }>`select count(*) as n from ${sql.table(spec.table)} ${where}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

async function countByAccount(db: Kysely<Database>, spec: TableSpec): Promise<Map<number, number>> {
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
function differingColumns(a: Row, b: Row): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((name) => comparable(a[name]) !== comparable(b[name])).sort();
}

/**
 * What identifies a database beyond its URL: the SQLite file (device and inode, so that two
 * spellings of one path match) or the PostgreSQL server, database and schema (`localhost` and
 * `127.0.0.1` are one server).
 */
async function identity(handle: DatabaseHandle): Promise<string> {
  const location = handle.location;
  if (location.kind === 'sqlite') {
    if (location.path === ':memory:') return `sqlite-memory:${randomUUID()}`;
    const stat = statSync(location.path);
    return `sqlite:${stat.dev}:${stat.ino}`;
  }
  const { rows } = await sql<{
    database: string;
    schema: string | null;
    port: number | null;
    started: string;
  }>`
    select current_database() as database, current_schema() as schema, inet_server_port() as port,
           pg_postmaster_start_time()::text as started`.execute(handle.db);
  return `postgres:${JSON.stringify(rows[0])}`;
}

/** The migrations applied to a database, before this command migrates it; empty for a fresh one. */
async function appliedMigrations(handle: DatabaseHandle): Promise<string[]> {
  const db = handle.db;
  const found =
    dialectOf(db) === 'postgres'
      ? await sql`select 1 from information_schema.tables
          where table_schema = current_schema() and table_name = 'kysely_migration'`.execute(db)
      : await sql`select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'`.execute(db);
  if (found.rows.length === 0) return [];
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((row) => row.name);
}

/**
 * Everything that must hold before the first row is read: two different databases, a source that
 * is a Plugboard database, neither touched by a newer Plugboard; then both migrated to the latest
 * schema, so that both have exactly the same columns. Safe to call again (the second time migrates
 * nothing).
 */
export async function prepareCopy(
  source: DatabaseHandle,
  target: DatabaseHandle,
): Promise<MigrationsApplied> {
  const from = describeLocation(source.location);
  const to = describeLocation(target.location);
  if ((await identity(source)) === (await identity(target))) {
    throw new CopyRefusedError(`--from and --to are the same database (${from}); nothing to copy`);
  }
  const known = new Set(Object.keys(migrations));
  const [sourceApplied, targetApplied] = [await appliedMigrations(source), await appliedMigrations(target)];
  for (const [role, where, applied] of [
    ['source', from, sourceApplied],
    ['target', to, targetApplied],
  ] as const) {
    const unknown = applied.filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new CopyRefusedError(
        `the ${role} database ${where} has migrations that this Plugboard does not know (${unknown.join(', ')}): ` +
          'a newer Plugboard has used it; run the copy with that version',
      );
    }
  }
  if (sourceApplied.length === 0) {
    throw new CopyRefusedError(
      `the source ${from} holds no Plugboard database (no migration was ever applied to it); check --from (and that --from and --to are not swapped)`,
    );
  }
  return {
    source: (await migrateToLatest(source)).applied,
    target: (await migrateToLatest(target)).applied,
  };
}

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

interface TablePlan {
  readonly spec: TableSpec;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Where the copy of this table resumes; unset: from the start. */
  readonly resumeAfter: Key | undefined;
  /** Keys of rows that an earlier run copied and that have changed in the source since. */
  readonly stale: readonly Key[];
}

/**
 * What the target already holds of one table must be a part of the source, row for row (an
 * interrupted copy). A row whose identity differs from the source's, or that the source does not
 * have (a server started on the target first, another source, a row deleted in the source since),
 * lands in `problems`. A row that is the same but has changed in the source since it was copied (a
 * server kept running: a key's last use, a renamed connector) is `stale`, to be refreshed.
 *
 * When the target holds all of the source's rows up to its largest key, the copy resumes after
 * that key; when it has gaps (a key created in the source since, sorting below the resume point),
 * it starts over and skips what is there.
 */
async function planTable(
  source: Kysely<Database>,
  target: Kysely<Database>,
  spec: TableSpec,
  batchSize: number,
  problems: string[],
  onProgress: CopyOptions['onProgress'],
): Promise<TablePlan> {
  const sourceRows = await countRows(source, spec);
  const targetRows = await countRows(target, spec);
  const stale: Key[] = [];
  if (targetRows === 0) return { spec, sourceRows, targetRows, resumeAfter: undefined, stale };
  let after: Key | undefined;
  let checked = 0;
  for (;;) {
    const rows = await rowsAfter(target, spec, after, batchSize);
    const first = rows[0];
    const last = rows.at(-1);
    if (!first || !last) break;
    const originals = new Map(
      (await rowsBetween(source, spec, keyValue(first, spec), keyValue(last, spec))).map((row) => [
        String(keyValue(row, spec)),
        row,
      ]),
    );
    for (const row of rows) {
      const key = keyValue(row, spec);
      const original = originals.get(String(key));
      const columns = original ? differingColumns(row, original) : [];
      const identity = columns.filter((name) => spec.identity.includes(name));
      if (!original) problems.push(`${spec.table} ${spec.key} ${key} is not in the source`);
      else if (identity.length > 0)
        problems.push(
          `${spec.table} ${spec.key} ${key} is another row in the source (${identity.join(', ')} differ)`,
        );
      else if (columns.length > 0) stale.push(key);
      if (problems.length >= MAX_LISTED)
        return { spec, sourceRows, targetRows, resumeAfter: undefined, stale };
    }
    after = keyValue(last, spec);
    checked += rows.length;
    onProgress?.({ phase: 'check', table: spec.table, done: checked, total: targetRows, copied: 0 });
  }
  const prefix = after !== undefined && (await countRows(source, spec, after)) === targetRows;
  return { spec, sourceRows, targetRows, resumeAfter: prefix ? after : undefined, stale };
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

/** Source rows compared with the target's, column by column; target connectors' secrets opened with the source's keys. */
async function compareTable(
  source: Kysely<Database>,
  target: Kysely<Database>,
  spec: TableSpec,
  total: number,
  options: { batchSize: number; keyring?: KeyringSource | undefined; onProgress: CopyOptions['onProgress'] },
  problems: string[],
  secrets: { opened: number; failed: string[]; failedCount: number },
): Promise<number> {
  const box = options.keyring && spec.table === 'connectors' ? createSecretBox(options.keyring) : undefined;
  let identical = 0;
  let missing = 0;
  let differing = 0;
  const examples: string[] = [];
  let after: Key | undefined;
  let done = 0;
  for (;;) {
    const rows = await rowsAfter(source, spec, after, options.batchSize);
    const first = rows[0];
    const last = rows.at(-1);
    if (!first || !last) break;
    const copies = new Map(
      (await rowsBetween(target, spec, keyValue(first, spec), keyValue(last, spec))).map((row) => [
        String(keyValue(row, spec)),
        row,
      ]),
    );
    for (const row of rows) {
      const key = keyValue(row, spec);
      const copy = copies.get(String(key));
      if (!copy) {
        missing++;
        if (examples.length < MAX_LISTED) examples.push(`${spec.key} ${key} missing`);
        continue;
      }
      const columns = differingColumns(row, copy);
      if (columns.length > 0) {
        differing++;
        if (examples.length < MAX_LISTED) examples.push(`${spec.key} ${key}: ${columns.join(', ')}`);
        continue;
      }
      identical++;
      if (box && typeof copy.secrets === 'string' && typeof copy.secret_key_id === 'string') {
        const id = String(copy.id);
        try {
          box.open(id, String(copy.type), { sealed: copy.secrets, keyId: copy.secret_key_id });
          secrets.opened++;
        } catch {
          secrets.failedCount++;
          if (secrets.failed.length < MAX_LISTED) secrets.failed.push(id);
        }
      }
    }
    after = keyValue(last, spec);
    done += rows.length;
    options.onProgress?.({ phase: 'verify', table: spec.table, done, total, copied: 0 });
  }
  if (missing + differing > 0) {
    problems.push(
      `${spec.table}: ${missing} source row(s) missing from the target, ${differing} differing (${examples.join('; ')})`,
    );
  }
  return identical;
}

async function accountNames(db: Kysely<Database>): Promise<Map<number, string>> {
  const rows = await db.selectFrom('accounts').select(['id', 'name']).execute();
  return new Map(rows.map((row) => [Number(row.id), row.name]));
}

/** Per table and, for the tables that belong to accounts, per account: source count against target count. */
async function countChecks(source: Kysely<Database>, target: Kysely<Database>): Promise<CountCheck[]> {
  const names = new Map([...(await accountNames(target)), ...(await accountNames(source))]);
  const checks: CountCheck[] = [];
  for (const spec of TABLES) {
    checks.push({
      table: spec.table,
      source: await countRows(source, spec),
      target: await countRows(target, spec),
    });
    if (!spec.perAccount) continue;
    const [inSource, inTarget] = [await countByAccount(source, spec), await countByAccount(target, spec)];
    const ids = [...new Set([...inSource.keys(), ...inTarget.keys()])].sort((a, b) => a - b);
    for (const id of ids) {
      checks.push({
        table: spec.table,
        account: { id, name: names.get(id) ?? '?' },
        source: inSource.get(id) ?? 0,
        target: inTarget.get(id) ?? 0,
      });
    }
  }
  return checks;
}

/**
 * Copies `source` into `target` and verifies the result. Refuses (CopyRefusedError, before any row
 * is written) a target that holds anything but a part of this very source. Resumable: each batch
 * is one transaction in the target and rows already there are skipped, so an interrupted copy is
 * simply run again; the rerun checks what is there, refreshes the rows that changed in the source
 * meanwhile, and carries on after the last one copied.
 *
 * The verification compares the snapshot of the source with the target: counts per table and per
 * account, every column of every row, and (with a keyring) every connector's sealed secrets opened
 * from the target's rows. What differs is in `problems`; the copy is good when that is empty.
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
    const from = describeLocation(source.location);
    const to = describeLocation(target.location);

    const conflicts: string[] = [];
    const plans: TablePlan[] = [];
    for (const spec of TABLES) {
      plans.push(await planTable(snapshot, target.db, spec, batchSize, conflicts, options.onProgress));
      if (conflicts.length >= MAX_LISTED) break;
    }
    if (conflicts.length > 0) {
      throw new CopyRefusedError(
        `the target ${to} already holds data that is not in the source ${from}: ${conflicts.join('; ')}. ` +
          'No row was written. Copy into an empty database (do not start a server on it before the copy), ' +
          'or rerun an interrupted copy from the same source; if the source has changed since, empty the target and copy again',
      );
    }

    const tables: TableReport[] = [];
    for (const plan of plans) {
      const { spec } = plan;
      let after = plan.resumeAfter;
      let done = after === undefined ? 0 : plan.targetRows;
      let copied = 0;
      const report = () =>
        options.onProgress?.({ phase: 'copy', table: spec.table, done, total: plan.sourceRows, copied });
      report();
      const refreshed = await refreshRows(snapshot, target, spec, plan.stale, batchSize);
      for (;;) {
        const rows = await rowsAfter(snapshot, spec, after, batchSize);
        const last = rows.at(-1);
        if (!last) break;
        copied += await insertBatch(target, spec, rows);
        done += rows.length;
        after = keyValue(last, spec);
        report();
      }
      tables.push({
        table: spec.table,
        sourceRows: plan.sourceRows,
        alreadyThere: plan.targetRows,
        copied,
        refreshed,
        targetRows: await countRows(target.db, spec),
        identical: 0,
      });
    }

    const sequencesReset = await resetSequences(target);

    const problems: string[] = [];
    const counts = await countChecks(snapshot, target.db);
    for (const check of counts) {
      if (check.source === check.target) continue;
      const which = check.account ? ` of account ${check.account.name} (id ${check.account.id})` : '';
      problems.push(
        `${check.table}${which}: ${check.source} row(s) in the source, ${check.target} in the target`,
      );
    }
    const secrets = { opened: 0, failed: [] as string[], failedCount: 0 };
    const verified: TableReport[] = [];
    for (const table of tables) {
      const spec = TABLES.find((t) => t.table === table.table);
      if (!spec) continue;
      const identical = await compareTable(
        snapshot,
        target.db,
        spec,
        table.sourceRows,
        { batchSize, keyring: options.keyring, onProgress: options.onProgress },
        problems,
        secrets,
      );
      verified.push({ ...table, identical });
    }
    if (secrets.failedCount > 0) {
      problems.push(
        `${secrets.failedCount} connector(s) in the target whose secrets do not open under the source's keys (${secrets.failed.join(', ')})`,
      );
    }
    return {
      migrated,
      tables: verified,
      counts,
      secrets: options.keyring ? secrets : undefined,
      sequencesReset,
      problems,
      elapsedMs: Date.now() - started,
    };
  });
}
