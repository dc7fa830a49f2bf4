import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  Migrator,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
} from 'kysely';
import type { DatabaseLocation } from './location.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

export type SqliteSynchronous = 'FULL' | 'NORMAL';

export interface DatabaseOptions {
  /** SQLite's `synchronous` pragma; see the README for what each promises on power loss. */
  readonly synchronous?: SqliteSynchronous;
}

/** An open database: the query builder plus what the service needs around it. */
export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly location: DatabaseLocation;
  /** Resolves once the database can begin a write transaction (the write lock is obtainable). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Kysely's SQLite driver with every transaction begun IMMEDIATE: the write lock is taken (waiting
 * up to busy_timeout) before the first read. A DEFERRED transaction that reads and then writes
 * fails at once with SQLITE_BUSY_SNAPSHOT when another process (a second server, `secrets rotate`)
 * committed in between; busy_timeout does not help there.
 *
 * Rollback only when a transaction is still open: after SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM
 * SQLite may already have rolled the transaction back itself, and Kysely's ROLLBACK then failed
 * with "no transaction is active", which replaced the original error (a 503) with a 500.
 */
class ImmediateTransactionDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly sqlite: SqliteDatabase.Database,
  ) {
    super(config);
  }
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
  }
}

class ImmediateTransactionDialect extends SqliteDialect {
  constructor(
    private readonly dialectConfig: SqliteDialectConfig,
    private readonly sqlite: SqliteDatabase.Database,
  ) {
    super(dialectConfig);
  }
  override createDriver(): Driver {
    return new ImmediateTransactionDriver(this.dialectConfig, this.sqlite);
  }
}

export function openDatabase(location: DatabaseLocation, options: DatabaseOptions = {}): DatabaseHandle {
  if (location.path !== ':memory:') mkdirSync(dirname(location.path), { recursive: true });
  const sqlite = new SqliteDatabase(location.path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new ImmediateTransactionDialect({ database: sqlite }, sqlite) });
  let closed = false;
  return {
    db,
    location,
    async ping() {
      // An empty IMMEDIATE transaction: it takes the write lock (as every write does, waiting up to
      // busy_timeout) and writes nothing. `select 1` answered even while no write could succeed.
      await db.transaction().execute(async () => {});
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

export interface MigrationReport {
  readonly applied: readonly string[];
}

/** Applies every pending migration; throws if one fails (the failed one is rolled back). */
export async function migrateToLatest(handle: DatabaseHandle): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: handle.db,
    provider: { getMigrations: async () => migrations },
  });
  // Kysely runs SQLite migrations outside any transaction. Run them in one IMMEDIATE transaction
  // on SQLite's single connection instead: a second process starting at the same moment waits
  // (busy_timeout) rather than racing to create the same tables, and a failed or interrupted
  // migration leaves nothing half-applied. (So a migration must not open a transaction itself.)
  await sql`begin immediate`.execute(handle.db);
  let committed = false;
  try {
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    await sql`commit`.execute(handle.db);
    committed = true;
    return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
  } finally {
    if (!committed) await sql`rollback`.execute(handle.db).catch(() => {});
  }
}
