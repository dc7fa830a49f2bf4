import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { type Kysely, sql } from 'kysely';
import { type DatabaseHandle, migrateToLatest } from '../database.js';
import { dialectOf } from '../dialect.js';
import { describeLocation } from '../location.js';
import { migrations } from '../migrations/index.js';
import type { Database } from '../schema.js';
import { countRows, differingColumns, type Key, keyValue, pairedBatches } from './rows.js';
import { type CopyOptions, MAX_LISTED, type MigrationsApplied, TABLES, type TableSpec } from './types.js';

/** A copy that must not start (nothing has been copied): the message says why and what to do. */
export class CopyRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyRefusedError';
  }
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

export interface TablePlan {
  readonly spec: TableSpec;
  readonly sourceRows: number;
  readonly targetRows: number;
  /** Where the copy of this table resumes; unset: from the start. */
  readonly resumeAfter: Key | undefined;
  /** Keys of rows that an earlier run copied and that have changed in the source since. */
  readonly stale: readonly Key[];
  /** The first few of them, with the columns that would be set back to the source's: `api_keys id k1 (last_used_at)`. */
  readonly staleListed: readonly string[];
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
  const staleListed: string[] = [];
  if (targetRows === 0) return { spec, sourceRows, targetRows, resumeAfter: undefined, stale, staleListed };
  let after: Key | undefined;
  let checked = 0;
  for await (const { rows, last, counterpart } of pairedBatches(target, source, spec, batchSize)) {
    for (const row of rows) {
      const key = keyValue(row, spec);
      const original = counterpart(row);
      const columns = original ? differingColumns(row, original) : [];
      const identity = columns.filter((name) => spec.identity.includes(name));
      if (!original) problems.push(`${spec.table} ${spec.key} ${key} is not in the source`);
      else if (identity.length > 0)
        problems.push(
          `${spec.table} ${spec.key} ${key} is another row in the source (${identity.join(', ')} differ)`,
        );
      else if (columns.length > 0) {
        stale.push(key);
        if (staleListed.length < MAX_LISTED)
          staleListed.push(`${spec.table} ${spec.key} ${key} (${columns.join(', ')})`);
      }
      if (problems.length >= MAX_LISTED)
        return { spec, sourceRows, targetRows, resumeAfter: undefined, stale, staleListed };
    }
    after = last;
    checked += rows.length;
    onProgress?.({ phase: 'check', table: spec.table, done: checked, total: targetRows, copied: 0 });
  }
  const prefix = after !== undefined && (await countRows(source, spec, after)) === targetRows;
  return { spec, sourceRows, targetRows, resumeAfter: prefix ? after : undefined, stale, staleListed };
}

/**
 * A plan per table, in the order they are copied; refuses (CopyRefusedError, nothing written) a
 * target that holds anything but a part of this very source, and, unless `force`, a target in
 * which a copied row differs from the source's: that is a source that changed since (a server
 * kept running on it) or a target that did (a server was started on it), and the copy cannot tell
 * which. Refreshing would set the target's rows back to the source's state: a key's revocation or
 * last use, a connector's edit made on the target would be lost.
 */
export async function planCopy(
  source: Kysely<Database>,
  target: DatabaseHandle,
  sourceName: string,
  batchSize: number,
  onProgress: CopyOptions['onProgress'],
  force = false,
): Promise<TablePlan[]> {
  const conflicts: string[] = [];
  const plans: TablePlan[] = [];
  for (const spec of TABLES) {
    plans.push(await planTable(source, target.db, spec, batchSize, conflicts, onProgress));
    if (conflicts.length >= MAX_LISTED) break;
  }
  if (conflicts.length > 0) {
    throw new CopyRefusedError(
      `the target ${describeLocation(target.location)} already holds data that is not in the source ${sourceName}: ${conflicts.join('; ')}. ` +
        'No row was written. Copy into an empty database (do not start a server on it before the copy), ' +
        'or rerun an interrupted copy from the same source; if the source has changed since, empty the target and copy again',
    );
  }
  const stale = plans.reduce((sum, plan) => sum + plan.stale.length, 0);
  if (stale > 0 && !force) {
    const listed = plans.flatMap((plan) => plan.staleListed).slice(0, MAX_LISTED);
    throw new CopyRefusedError(
      `${stale} row${stale === 1 ? '' : 's'} copied into the target ${describeLocation(target.location)} earlier differ from the source ${sourceName} now, ` +
        `and this copy would set them back to the source's state: ${listed.join('; ')}${stale > listed.length ? `; and ${stale - listed.length} more` : ''}. ` +
        'No row was written. If a server has used the target since the last copy, its changes there (keys used or revoked, ' +
        'connectors edited) would be lost: point that server back at the source, or empty the target and copy again. ' +
        'If only the source changed (a server kept running on it), run the copy again with --force',
    );
  }
  return plans;
}
