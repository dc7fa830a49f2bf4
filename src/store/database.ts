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
  /** Resolves once the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Kysely's SQLite driver with every transaction begun IMMEDIATE: the write lock is taken (waiting
 * up to busy_timeout) before the first read. A DEFERRED transaction that reads and then writes
 * fails at once with SQLITE_BUSY_SNAPSHOT when another process (a second server, `secrets rotate`)
 * committed in between; busy_timeout does not help there.
 */
class ImmediateTransactionDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateTransactionDialect extends SqliteDialect {
  constructor(private readonly dialectConfig: SqliteDialectConfig) {
    super(dialectConfig);
  }
  override createDriver(): Driver {
    return new ImmediateTransactionDriver(this.dialectConfig);
  }
}

export function openDatabase(location: DatabaseLocation, options: DatabaseOptions = {}): DatabaseHandle {
  if (location.path !== ':memory:') mkdirSync(dirname(location.path), { recursive: true });
  const sqlite = new SqliteDatabase(location.path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new ImmediateTransactionDialect({ database: sqlite }) });
  let closed = false;
  return {
    db,
    location,
    async ping() {
      await sql`select 1`.execute(db);
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
