import { createRequire } from 'node:module';
import { Kysely, type MigrationResult, Migrator, PostgresDialect, type PostgresPool, sql } from 'kysely';
import type pg from 'pg';
import { ownSchemaChanged, statementNameOf } from './compiled.js';
import { type ConnectorChanges, listenForChanges } from './connector-changes.js';
import { isDatabaseUnavailable } from './errors.js';
import type { FileModeNotice } from './file-modes.js';
import type { DatabaseLocation } from './location.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';
import { openSqlite } from './sqlite-database.js';
import { ownTransactions, type Transact } from './transact.js';
import type { SyncFile } from './wal-sync.js';

/**
 * Each backend's driver is loaded when a database of its kind is opened, not at start: a server
 * loads one of the two. better-sqlite3 (native) is required from node_modules
 * (sqlite-database.ts). pg is CommonJS too; in the bundle (scripts/bundle.mjs) `require` is the
 * bundle's, and pg is compiled into it, with the code cache: required from node_modules, its ~40
 * files cost ~30 ms of CPU of a PostgreSQL server's start (issue 15). Run from the sources (the
 * tests), there is no `require`, and pg comes from node_modules.
 */
function loadPg(): typeof pg {
  return (typeof require === 'function' ? require('pg') : createRequire(import.meta.url)('pg')) as typeof pg;
}

export type SqliteSynchronous = 'FULL' | 'NORMAL';

export interface DatabaseOptions {
  /** SQLite's `synchronous` pragma; see the README for what each promises on power loss. */
  readonly synchronous?: SqliteSynchronous;
  /** PostgreSQL: the most connections this process opens (DATABASE_POOL_SIZE). */
  readonly poolSize?: number;
  /** PostgreSQL: how long the client waits for an answer (tests shorten it). */
  readonly queryTimeoutMs?: number;
  /** SQLite: how long a statement waits for another process's write lock (default 5 s; tests shorten it). */
  readonly lockWaitMs?: number;
  /** SQLite: told what was done to make the database's files private (the server logs it). */
  readonly onFileModes?: (notice: FileModeNotice) => void;
  /**
   * SQLite: checkpoint the WAL on a thread of its own instead of in the commits on the event loop
   * (checkpointer.ts); the server's. Told when that thread failed (the commits checkpoint again).
   */
  readonly checkpointThread?: { readonly onError: (error: unknown) => void };
  /**
   * SQLite, shared with the deliveries thread (thread-host.ts): element 0 is set while this
   * connection's write group runs, element 1 while the thread's connection (opened with it as
   * `yieldTo`) is in a transaction. The thread waits for 0 before each BEGIN (at most
   * YIELD_WAIT_MS), and a group waits for 1 to clear (Atomics.waitAsync, woken by the thread's
   * notify at the end of its transaction; at most TURN_WAIT_MS): neither finds
   * the lock taken by the other and pauses for milliseconds, as it would for another process.
   */
  readonly writeIntent?: Int32Array;
  readonly yieldTo?: Int32Array;
  /** SQLite at FULL: how the write groups flush the WAL file (fs.fdatasync; tests fake failures and delays). */
  readonly syncFile?: SyncFile;
}

export const DEFAULT_POOL_SIZE = 10;

/** An open database: the query builder plus what the service needs around it. */
export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly location: DatabaseLocation;
  /**
   * The same database, for writes that must survive a crash of the process but may be lost on a
   * power loss (the delivery worker's claims and records): on SQLite at `synchronous = FULL`
   * they commit without an fsync (see RelaxedConnection); elsewhere it is `db`.
   */
  readonly relaxed?: Kysely<Database>;
  /** Resolves once the database can begin a write transaction (the write lock is obtainable). */
  ping(): Promise<void>;
  /**
   * Runs a write in a transaction, answered once it is committed: SQLite commits the writes that
   * arrive together in one transaction (group-commit.ts), PostgreSQL gives each its own. Unset (a
   * handle made elsewhere): one transaction each.
   */
  readonly transact?: Transact;
  close(): Promise<void>;
  /** PostgreSQL: how busy the connection pool is now (the metrics read it); SQLite has no pool. */
  readonly poolUse?: () => PoolUse;
  /**
   * PostgreSQL: notices of committed changes to connectors, on a connection of its own opened when
   * first asked (by the connector store's cache, connector-cache.ts); SQLite reads at once instead.
   */
  readonly connectorChanges?: ConnectorChanges;
  /**
   * SQLite, when opened with `checkpointThread`: starts the WAL checkpoint thread (checkpointer.ts),
   * once; later calls do nothing. Asked for by the first delivery queued.
   */
  readonly checkpointInBackground?: () => void;
  /**
   * PostgreSQL: opens pool connections at once, in the background, until the pool holds
   * `connections` (open or opening), and returns them to the pool idle (a failure is left to the
   * query that next needs a connection).
   * The server asks for it as it opens the database: PostgreSQL starts each connection's backend
   * while this process loads and builds the app, where otherwise the first requests after
   * listening (the key bootstrap, the first /healthz, beside the delivery worker's first claim)
   * each waited for a new connection in turn (issue 15).
   */
  readonly warm?: (connections: number) => void;
}

/** How busy a PostgreSQL connection pool is (pg's Pool counts). */
export interface PoolUse {
  /** Connections open: in use plus idle. */
  readonly total: number;
  readonly idle: number;
  /** Queries waiting for a connection because every one is in use. */
  readonly waiting: number;
  /** The most connections the pool opens (DATABASE_POOL_SIZE). */
  readonly max: number;
}

export function openDatabase(location: DatabaseLocation, options: DatabaseOptions = {}): DatabaseHandle {
  return location.kind === 'postgres' ? openPostgres(location, options) : openSqlite(location, options);
}

/** How long a request waits for a pooled connection, or for PostgreSQL to accept a new one. */
export const POSTGRES_CONNECT_TIMEOUT_MS = 5_000;
/** How long /healthz waits for PostgreSQL. */
const PING_TIMEOUT_MS = 3_000;
/** The longest a statement may run (server side) before PostgreSQL cancels it. */
const POSTGRES_STATEMENT_TIMEOUT_MS = 15_000;

/**
 * pg rejects a query whose answer does not come within query_timeout but keeps its connection as
 * if it were usable (brianc/node-postgres#3399): behind a silent network it went back to the pool,
 * and every later query on it waited the whole timeout again. A client that timed out is released
 * with an error, which makes the pool destroy it instead of keeping it.
 */
function discardOnTimeout(pool: pg.Pool): PostgresPool {
  const timedOut = new WeakSet<pg.PoolClient>();
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    Object.assign(client, {
      query: (...args: unknown[]) => {
        // A hot query compiled once (compiled.ts) goes as a named statement: parsed and planned
        // once per connection (pg prepares it on first use and remembers it).
        const name = typeof args[0] === 'string' ? statementNameOf(args[0]) : undefined;
        const result = name ? query({ name, text: args[0], values: args[1] }) : query(...args);
        // Registered before the caller's own handlers, so it runs before the caller releases.
        if (result instanceof Promise) {
          result.catch((error: unknown) => {
            if (error instanceof Error && error.message === 'Query read timeout') timedOut.add(client);
          });
        }
        return result;
      },
    });
  });
  // Kysely checks clients out through this and releases them with release(false) (true after a
  // failed rollback).
  return {
    async connect() {
      const client = await pool.connect();
      const release = client.release;
      client.release = (error?: Error | boolean) =>
        release(
          error || (timedOut.has(client) ? new Error('query timed out: connection discarded') : undefined),
        );
      return client;
    },
    end: () => pool.end(),
  };
}

function openPostgres(
  location: Extract<DatabaseLocation, { kind: 'postgres' }>,
  options: DatabaseOptions,
): DatabaseHandle {
  const { Client, Pool } = loadPg();
  const max = options.poolSize ?? DEFAULT_POOL_SIZE;
  const settings = {
    connectionString: location.url,
    // A database that is gone must make requests fail fast (503), not queue them for ever.
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    // Probes start after 10 s of silence (the OS default is 2 h) so a dead idle connection is found.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    statement_timeout: POSTGRES_STATEMENT_TIMEOUT_MS,
    // A client-side bound too: a server that vanished without closing the socket never answers.
    query_timeout: options.queryTimeoutMs ?? POSTGRES_STATEMENT_TIMEOUT_MS + 5_000,
    application_name: 'plugboard',
    ...(location.schema === undefined ? {} : { options: `-c search_path=${location.schema}` }),
  };
  const pool = new Pool({ ...settings, max, idleTimeoutMillis: 30_000 });
  const connectorChanges = listenForChanges({
    // Its heartbeat is answered at once or never: 5 s, not the pool's 20 s.
    client: () => new Client({ ...settings, query_timeout: Math.min(settings.query_timeout, 5_000) }),
  });
  // An idle connection that the server closed (restart, failover) emits 'error' on the pool; the
  // pool has already dropped it and the next request opens a new one. Unhandled, it would crash.
  pool.on('error', () => {});
  // A connection that the server closes while a request holds it (pg_terminate_backend, a restart,
  // a failover; a query in flight or a transaction open) emits 'error' on its client as well, and
  // the pool listens only on idle clients: that 'error' went unhandled and the process exited. The
  // request still fails (the query in flight, or the next one, rejects: a 503), the client is
  // marked unusable, and the pool discards it when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: discardOnTimeout(pool) }) });
  let closed = false;
  return {
    db,
    location,
    poolUse: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
    connectorChanges,
    transact: ownTransactions(db),
    warm(connections) {
      const wanted = Math.min(connections, max) - pool.totalCount;
      if (wanted <= 0) return;
      // Held together, so that each is a connection of its own, then released together.
      void Promise.allSettled(Array.from({ length: wanted }, () => pool.connect())).then((outcomes) => {
        for (const outcome of outcomes) if (outcome.status === 'fulfilled') outcome.value.release();
      });
    },
    async ping() {
      // Bounded: behind a silent network a query can wait for the client timeout (20 s), and a
      // load balancer needs its answer sooner. And writable: a replica, or a database set
      // read-only, answers every read but cannot serve the API.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('the database did not answer within 3 s')),
          PING_TIMEOUT_MS,
        );
      });
      try {
        const { rows } = await Promise.race([
          sql<{ read_only: string }>`select current_setting('transaction_read_only') as read_only`.execute(
            db,
          ),
          timeout,
        ]);
        if (rows[0]?.read_only === 'on') throw new Error('the database is read-only');
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await connectorChanges.close();
      await db.destroy();
    },
  };
}

export interface MigrationReport {
  readonly applied: readonly string[];
}

/** Migration names (0001-…) compare by code units; Kysely's default, localeCompare, loads ICU's collator at start. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Applies every pending migration; throws if one fails (the failed one is rolled back). */
export async function migrateToLatest(handle: DatabaseHandle): Promise<MigrationReport> {
  try {
    return handle.location.kind === 'postgres' ? await migratePostgres(handle) : await migrateSqlite(handle);
  } catch (error) {
    throw explainConnectError(handle.location, error);
  }
}

const MIGRATION_NAMES = Object.keys(migrations).sort(byCodeUnits);

/** True when `names` are exactly our migrations. */
function listsOurs(names: readonly string[]): boolean {
  const sorted = [...names].sort(byCodeUnits);
  return sorted.length === MIGRATION_NAMES.length && sorted.every((name, i) => name === MIGRATION_NAMES[i]);
}

/**
 * True when Kysely's bookkeeping table in `schema` lists exactly our migrations: one read, where
 * the migrator introspects the tables, takes an advisory lock and reads the same list (a server
 * starts on a migrated database nearly always). On SQLite inside the migration's transaction
 * (see migrateSqlite); PostgreSQL's `schema` is named. Anything
 * else (no table yet, a migration missing, one we do not know, an error) is the migrator's to
 * handle or to report.
 */
async function upToDate(db: Kysely<Database>, schema?: string): Promise<boolean> {
  const table = schema === undefined ? sql.id('kysely_migration') : sql.id(schema, 'kysely_migration');
  try {
    const { rows } = await sql<{ name: string }>`select name from ${table}`.execute(db);
    return listsOurs(rows.map((row) => row.name));
  } catch {
    return false;
  }
}

/**
 * The first thing every command does is migrate; when that cannot reach the database, say which
 * one (never the URL, which may hold a password) and what to check.
 */
function explainConnectError(location: DatabaseLocation, error: unknown): unknown {
  if (location.kind !== 'postgres') return error;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const reason = error instanceof Error ? error.message : String(error);
  if (code === '28P01' || code === '28000') {
    return new Error(
      `PostgreSQL at ${location.description} refused the login (${reason}); check the user and password in DATABASE_URL`,
    );
  }
  if (code === '57014') return error; // a statement cancelled: not a connection problem
  if (code === '3D000') {
    return new Error(
      `PostgreSQL at ${location.description} has no such database (${reason}); create it (createdb) or fix the database name in DATABASE_URL`,
    );
  }
  if (isDatabaseUnavailable(error)) {
    return new Error(
      `cannot reach PostgreSQL at ${location.description} (${reason}); check DATABASE_URL and that PostgreSQL is running`,
    );
  }
  return error;
}

function report(results: readonly MigrationResult[] | undefined, error: unknown): MigrationReport {
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/**
 * Kysely's migrator on PostgreSQL runs every pending migration in one transaction under an
 * advisory lock: ten instances starting at once migrate once, the other nine wait and find nothing
 * to do. Its bookkeeping tables go in the schema the connection works in (`current_schema()`), so
 * that another application's migrations in another schema of the same database are not mistaken
 * for ours.
 */
async function migratePostgres(handle: DatabaseHandle): Promise<MigrationReport> {
  // The schema and our bookkeeping table's list at once, one round trip where a start on a
  // migrated database (nearly always) took two (issue 15): the unqualified name counts only if
  // it resolves to the table in the current schema. Anything else (no table yet: an error)
  // takes the two steps below.
  const known = await sql<{ schema: string | null; names: string[] | null }>`
    select current_schema() as schema,
      array(select name from kysely_migration) as names
    where to_regclass('kysely_migration') = to_regclass(format('%I.kysely_migration', current_schema()))`
    .execute(handle.db)
    .then(
      ({ rows }) => rows[0],
      () => undefined,
    );
  if (known?.schema && known.names && listsOurs(known.names)) return { applied: [] };
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(handle.db);
  const schema = rows[0]?.schema;
  if (!schema) {
    throw new Error(
      'PostgreSQL has no current schema for Plugboard to create its tables in; create one, or set the search_path of the database user',
    );
  }
  if (await upToDate(handle.db, schema)) return { applied: [] };
  // On one connection without the 15 s statement_timeout: waiting for another instance's
  // migration lock, or a long migration, must not fail the start.
  return handle.db.connection().execute(async (connection) => {
    await sql`set statement_timeout = 0`.execute(connection);
    try {
      const migrator = new Migrator({
        db: connection,
        provider: { getMigrations: async () => migrations },
        migrationTableSchema: schema,
        nameComparator: byCodeUnits,
      });
      const { error, results } = await migrator.migrateToLatest();
      return report(results, error);
    } finally {
      await sql`reset statement_timeout`.execute(connection).catch(() => {});
    }
  });
}

// SQLite keeps the migrator's transaction even when up to date (issue 15 tried the one read
// without it): its `begin immediate` makes a second process started at the same moment on a new
// database wait out the first one's migration; with the read alone, the two reached the master
// key file's check-then-create (secrets/keyring.ts) together and made two keys
// (test/process.test.ts, HOST and PORT refused at once, failed). That race wants an exclusive
// create of its own. The one read runs inside that transaction: the waiting is the same, and an
// up-to-date database skips the migrator's introspection of every table (~8 ms of CPU of a start).
async function migrateSqlite(handle: DatabaseHandle): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: handle.db,
    provider: { getMigrations: async () => migrations },
    nameComparator: byCodeUnits,
  });
  // Kysely runs SQLite migrations outside any transaction. Run them in one IMMEDIATE transaction
  // on SQLite's single connection instead: a second process starting at the same moment waits
  // (up to LOCK_WAIT_MS, see sqlite-database.ts) rather than racing to create the same tables, and a failed or interrupted
  // migration leaves nothing half-applied. (So a migration must not open a transaction itself.)
  await sql`begin immediate`.execute(handle.db);
  let committed = false;
  try {
    let outcome: MigrationReport = { applied: [] };
    if (!(await upToDate(handle.db))) {
      const { error, results } = await migrator.migrateToLatest();
      outcome = report(results, error);
    }
    await sql`commit`.execute(handle.db);
    committed = true;
    return outcome;
  } finally {
    if (!committed) await sql`rollback`.execute(handle.db).catch(() => {});
    // A table made again lost the connection's TEMP triggers (sqlite-database.ts): made again.
    ownSchemaChanged(handle.db);
  }
}
