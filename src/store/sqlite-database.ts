import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type SqliteDatabase from 'better-sqlite3';
import {
  type Compilable,
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type QueryResult,
  SqliteDialect,
  SqliteDriver,
} from 'kysely';
import { AUTOCHECKPOINT_PAGES, type Checkpointer, startCheckpointer } from './checkpointer.js';
import {
  type OwnConnectorChange,
  onOwnSchemaChangeOn,
  ownConnectorChangesOn,
  readNowOn,
  stampedReadNowOn,
  stampNowOn,
} from './compiled.js';
import type { DatabaseHandle, DatabaseOptions, SqliteSynchronous } from './database.js';
import { isLockBusy } from './errors.js';
import { secureDatabaseFiles } from './file-modes.js';
import { groupCommit, lockDeadlineOf } from './group-commit.js';
import type { DatabaseLocation } from './location.js';
import type { Database } from './schema.js';
import { createWalSync } from './wal-sync.js';

export { isLockBusy };

/** How long a statement waits for another process's write lock before it fails with SQLITE_BUSY (a 503), by default. */
export const LOCK_WAIT_MS = 5_000;
/** The pauses between attempts: from 2 ms, doubling, to 50 ms; with jitter, so processes do not retry in step. */
const FIRST_PAUSE_MS = 2;
const MAX_PAUSE_MS = 50;

/**
 * The compiled statements that must not wait. Marked on the statement itself, not in an
 * AsyncLocalStorage: that turned on async_hooks promise hooks for the rest of the process, a cost
 * on every promise of every request.
 */
const noLockWait = new WeakSet<CompiledQuery>();

/**
 * Runs `query` (one statement) without waiting for SQLite's write lock: when another process holds
 * it, the statement fails at once with SQLITE_BUSY. For best-effort writes (a key's last use).
 * PostgreSQL ignores it.
 */
export async function withoutLockWait<R>(
  db: Kysely<Database>,
  query: Compilable<R> | CompiledQuery<R>,
): Promise<QueryResult<R>> {
  const compiled = 'compile' in query ? query.compile() : query;
  noLockWait.add(compiled);
  return db.executeQuery(compiled);
}

/** How long after opening the server's database its checkpoint thread starts (checkpointer.ts). */
const CHECKPOINTER_START_MS = 1_000;

/** How many prepared statements the connection keeps; past that the cache starts over. */
const MAX_PREPARED = 256;

/**
 * better-sqlite3's statements, prepared once per SQL text and kept (Kysely's own connection
 * prepared every statement on every call, about 7 % of a read). The queries run and their results
 * are Kysely's: this is its SqliteConnection with a statement cache.
 */
class PreparedConnection implements DatabaseConnection {
  readonly #statements = new Map<string, SqliteDatabase.Statement>();

  constructor(private readonly sqlite: SqliteDatabase.Database) {}

  prepare(text: string): SqliteDatabase.Statement {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.sqlite.prepare(text);
      if (this.#statements.size >= MAX_PREPARED) this.#statements.clear();
      this.#statements.set(text, statement);
    }
    return statement;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.run<R>(query);
  }

  /** The statement, run synchronously (better-sqlite3 is). */
  run<R>(query: CompiledQuery): QueryResult<R> {
    const statement = this.prepare(query.sql);
    const parameters = query.parameters as unknown[];
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return {
      numAffectedRows: BigInt(changes),
      insertId: BigInt(lastInsertRowid),
      rows: [],
    };
  }

  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not used on SQLite');
  }
}

/**
 * The connection for writes that need not survive a power loss, only a crash of the process (the
 * delivery worker's claims and records: a lost one means a delivery sent again, which
 * at-least-once allows): each of its transactions, and each statement outside one, commits with
 * `synchronous = NORMAL`, without an fsync. In WAL mode such a commit is in the operating system's
 * hands at once, so kill -9 loses nothing; the next commit with the configured setting (an
 * accept's) or the next checkpoint flushes it with everything before it.
 *
 * The setting can only change outside a transaction, and it is set back before the connection is
 * given up: it changes and returns within one synchronous stretch for a statement alone, and from
 * BEGIN to COMMIT or ROLLBACK for a transaction (while Kysely's mutex holds the connection for it;
 * the lock-waiting retries lend the connection only between tries, with the setting restored).
 */
class RelaxedConnection implements DatabaseConnection {
  // Run with exec each time: SQLite applies this pragma when the statement is compiled, so a
  // prepared one would do nothing when run.
  readonly #relaxed = 'pragma synchronous = NORMAL';
  readonly #restored: string;

  constructor(
    private readonly inner: PreparedConnection,
    private readonly sqlite: SqliteDatabase.Database,
    configured: SqliteSynchronous,
  ) {
    this.#restored = `pragma synchronous = ${configured}`;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (!this.sqlite.inTransaction) this.sqlite.exec(this.#relaxed);
    try {
      return this.inner.run<R>(query);
    } finally {
      if (!this.sqlite.inTransaction) this.sqlite.exec(this.#restored);
    }
  }

  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not used on SQLite');
  }
}

/**
 * SQLite's one connection, waiting for another process's write lock without blocking the event
 * loop. better-sqlite3 is synchronous: with busy_timeout, a statement waiting for the lock held
 * the whole process (every request, /healthz, the overload guard) for up to 5 s, one waiting
 * statement after another. busy_timeout is 0 instead, and a statement that answers SQLITE_BUSY
 * while no transaction is open (BEGIN IMMEDIATE, an auto-commit write, a read during WAL
 * recovery) has done nothing: it is tried again after a pause, until LOCK_WAIT_MS, then the BUSY
 * error goes to the caller (a 503 with Retry-After). During each pause the connection is handed
 * back (`lend`), so that other requests' reads (WAL: they need no lock) and writes go on. (So a
 * `db.connection()` scope is not exclusive across such a wait; no transaction is open then.)
 *
 * Inside a transaction nothing is retried: it began IMMEDIATE and holds the write lock, and in WAL
 * mode neither its statements nor its COMMIT wait for other connections.
 */
class LockWaitingConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly sqlite: SqliteDatabase.Database,
    private readonly lockWaitMs: number,
    private readonly lend: (ms: number) => Promise<void>,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = lockDeadlineOf(query) ?? Date.now() + this.lockWaitMs;
    for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
      const inTransaction = this.sqlite.inTransaction;
      try {
        return await this.inner.executeQuery<R>(query);
      } catch (error) {
        if (inTransaction || !isLockBusy(error) || noLockWait.has(query) || Date.now() >= deadline) {
          throw error;
        }
      }
      const jittered = pause * (0.75 + Math.random() / 2);
      await this.lend(Math.min(jittered, Math.max(0, deadline - Date.now())));
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/**
 * Kysely's SQLite driver with every transaction begun IMMEDIATE: the write lock is taken (waiting
 * as above) before the first read. A DEFERRED transaction that reads and then writes fails at once
 * with SQLITE_BUSY_SNAPSHOT when another process (a second server, `secrets rotate`) committed in
 * between; waiting does not help there.
 *
 * Rollback only when a transaction is still open: after SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM
 * SQLite may already have rolled the transaction back itself, and Kysely's ROLLBACK then failed
 * with "no transaction is active", which replaced the original error (a 503) with a 500.
 */
class ImmediateTransactionDriver extends SqliteDriver {
  #connection: DatabaseConnection | undefined;
  #relaxed: DatabaseConnection | undefined;

  constructor(
    private readonly sqlite: SqliteDatabase.Database,
    private readonly prepared: PreparedConnection,
    private readonly lockWaitMs: number,
    private readonly synchronous: SqliteSynchronous,
    private readonly yieldTo?: Int32Array,
  ) {
    super({ database: sqlite });
  }

  /** The one connection, behind Kysely's mutex: one request at a time uses it. */
  override async acquireConnection(): Promise<DatabaseConnection> {
    await super.acquireConnection();
    this.#connection ??= new LockWaitingConnection(this.prepared, this.sqlite, this.lockWaitMs, (ms) =>
      this.lend(ms),
    );
    return this.#connection;
  }

  /** The same connection, behind the same mutex, committing without an fsync (RelaxedConnection). */
  async acquireRelaxedConnection(): Promise<DatabaseConnection> {
    await super.acquireConnection();
    this.#relaxed ??= new LockWaitingConnection(
      new RelaxedConnection(this.prepared, this.sqlite, this.synchronous),
      this.sqlite,
      this.lockWaitMs,
      (ms) => this.lend(ms),
    );
    return this.#relaxed;
  }

  /** Gives the held connection up for `ms` and takes it back (queueing behind whoever took it meanwhile). */
  async lend(ms: number): Promise<void> {
    await super.releaseConnection();
    try {
      await sleep(ms);
    } finally {
      await super.acquireConnection();
    }
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.yieldTo) yieldToWrites(this.yieldTo);
    await connection.executeQuery(BEGIN_IMMEDIATE);
    // Told to the server's thread, whose write groups wait for it to end (group-commit.ts).
    if (this.yieldTo) Atomics.store(this.yieldTo, 1, 1);
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection);
    } finally {
      if (this.yieldTo && !this.sqlite.inTransaction) endOfTransaction(this.yieldTo);
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
    } finally {
      if (this.yieldTo && !this.sqlite.inTransaction) endOfTransaction(this.yieldTo);
    }
  }
}

const BEGIN_IMMEDIATE = CompiledQuery.raw('begin immediate');

/** Tells the server's thread that this connection's transaction ended; wakes a write group waiting for it (group-commit.ts). */
export function endOfTransaction(flag: Int32Array): void {
  Atomics.store(flag, 1, 0);
  Atomics.notify(flag, 1);
}

/**
 * How long, at most, a connection opened with `yieldTo` (the deliveries thread's) waits for the
 * other connection's writes before it begins a transaction anyway (SQLite's lock decides then).
 */
const YIELD_WAIT_MS = 20;

/**
 * Blocks this thread (never the API's event loop: only the deliveries thread's connection has
 * `yieldTo`) while the flag says the server's thread has a write group running (it holds the
 * lock, or is about to take it), at most YIELD_WAIT_MS; woken when it ends.
 */
function yieldToWrites(flag: Int32Array): void {
  const until = performance.now() + YIELD_WAIT_MS;
  for (;;) {
    if (Atomics.load(flag, 0) === 0) return;
    const left = until - performance.now();
    if (left <= 0) return;
    Atomics.wait(flag, 0, 1, left);
  }
}

class ImmediateTransactionDialect extends SqliteDialect {
  constructor(
    sqlite: SqliteDatabase.Database,
    private readonly driver: ImmediateTransactionDriver,
  ) {
    super({ database: sqlite });
  }
  override createDriver(): Driver {
    return this.driver;
  }
}

/**
 * The relaxed handle's driver: the shared driver's connection and mutex (so its transactions and
 * the others' never interleave), its transactions begun IMMEDIATE; opening and closing the
 * database are the shared driver's.
 */
class RelaxedDriver implements Driver {
  constructor(private readonly shared: ImmediateTransactionDriver) {}
  async init(): Promise<void> {}
  acquireConnection(): Promise<DatabaseConnection> {
    return this.shared.acquireRelaxedConnection();
  }
  beginTransaction(connection: DatabaseConnection): Promise<void> {
    return this.shared.beginTransaction(connection);
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.shared.commitTransaction(connection);
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.shared.rollbackTransaction(connection);
  }
  releaseConnection(): Promise<void> {
    return this.shared.releaseConnection();
  }
  async destroy(): Promise<void> {}
}

class RelaxedDialect extends SqliteDialect {
  constructor(
    sqlite: SqliteDatabase.Database,
    private readonly shared: ImmediateTransactionDriver,
  ) {
    super({ database: sqlite });
  }
  override createDriver(): Driver {
    return new RelaxedDriver(this.shared);
  }
}

/**
 * better-sqlite3's compiled addon, where its build puts it: the first of the places the `bindings`
 * package tries first, in its order (build/, build/Debug/, build/Release/). Given to the driver,
 * it skips that package's search, which finds its caller from a captured stack and tries each
 * place with a require() that throws (a part of a server's start-up, issue 15). Undefined (a build
 * elsewhere): the driver searches as it does by default.
 */
function sqliteAddon(require: NodeJS.Require): string | undefined {
  let root: string;
  try {
    root = dirname(require.resolve('better-sqlite3/package.json'));
  } catch {
    return undefined;
  }
  for (const folder of ['build', 'build/Debug', 'build/Release']) {
    const path = join(root, folder, 'better_sqlite3.node');
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * better-sqlite3's JavaScript. In the bundle (scripts/bundle.mjs) `require` is the bundle's, which
 * has it compiled in, with the code cache: required from node_modules, its files cost ~8 ms of CPU
 * of a start (issue 15). The addon itself always comes from node_modules (sqliteAddon). Without
 * that path, the package's own search for it (the `bindings` package, which looks beside the
 * caller's file) needs the package as installed, and so do the sources (the tests).
 */
function sqliteDriver(addonFound: boolean, fromNodeModules: NodeJS.Require): typeof SqliteDatabase {
  const driver =
    addonFound && typeof require === 'function'
      ? require('better-sqlite3')
      : fromNodeModules('better-sqlite3');
  return driver as typeof SqliteDatabase;
}

export function openSqlite(
  location: Extract<DatabaseLocation, { kind: 'sqlite' }>,
  options: DatabaseOptions,
): DatabaseHandle {
  // Owner-only files (0600) in an owner-only folder (0700), made so before SQLite creates any.
  if (location.path !== ':memory:') {
    for (const notice of secureDatabaseFiles(location.path)) options.onFileModes?.(notice);
  }
  // Loaded when a SQLite database is opened, not at start (see loadPg in database.ts).
  const fromNodeModules = createRequire(import.meta.url);
  const nativeBinding = sqliteAddon(fromNodeModules);
  const Sqlite = sqliteDriver(nativeBinding !== undefined, fromNodeModules);
  // No busy_timeout: SQLite would wait for a lock synchronously, holding the event loop. The
  // driver waits instead (LockWaitingConnection).
  const sqlite = new Sqlite(location.path, { timeout: 0, ...(nativeBinding ? { nativeBinding } : {}) });
  switchToWal(sqlite, options.lockWaitMs ?? LOCK_WAIT_MS);
  const synchronous = options.synchronous ?? 'FULL';
  sqlite.pragma(`synchronous = ${synchronous}`);
  sqlite.pragma('foreign_keys = ON');
  // Fewer, larger checkpoints than SQLite's default while the commits make them (checkpointer.ts).
  sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  // Deleted and overwritten content is zeroed where that costs no extra write (the page is written
  // anyway): a replaced key hash or a deleted idempotency record does not linger in free space.
  sqlite.pragma('secure_delete = FAST');
  // Temporary files in memory. In a write group (group-commit.ts) each write's SAVEPOINT, and each
  // insert's statement journal, copies every page it changes that the group already changed (the
  // table's last leaf, the account's row, the indexes' pages) into a sub-journal, which past 64 KiB
  // went to a temporary file: a write() of 4 KiB per page, about half of SQLite's CPU per create.
  // The sub-journal is only for rolling back inside the transaction (a crash recovers from the WAL),
  // so keeping it in memory costs nothing in durability, and the copies of pages holding sealed
  // secrets and key hashes no longer pass through a file in the temporary directory.
  sqlite.pragma('temp_store = MEMORY');
  const prepared = new PreparedConnection(sqlite);
  const driver = new ImmediateTransactionDriver(
    sqlite,
    prepared,
    options.lockWaitMs ?? LOCK_WAIT_MS,
    synchronous,
    options.yieldTo,
  );
  const db = new Kysely<Database>({ dialect: new ImmediateTransactionDialect(sqlite, driver) });
  // Write groups flush the WAL off the event loop (wal-sync.ts); only where FULL flushes at all.
  const walSync =
    synchronous === 'FULL' && location.path !== ':memory:'
      ? createWalSync(sqlite, location.path, options.syncFile)
      : undefined;
  // At NORMAL every commit is already without an fsync: the same handle.
  const relaxed =
    synchronous === 'FULL' ? new Kysely<Database>({ dialect: new RelaxedDialect(sqlite, driver) }) : db;
  let closed = false;
  // Hot reads (compiled.ts) run at once: better-sqlite3 is synchronous, so nothing else runs on the
  // connection meanwhile. Not while a transaction is open on it (a write between its statements,
  // waiting for the next): the read would see that transaction's uncommitted rows; then, and on
  // SQLITE_BUSY (a read during WAL recovery, which the usual way waits out), the read queues for the
  // connection as every query does.
  //
  // Their statements are their own, in raw mode (each row an array), and each row's object is made
  // here: better-sqlite3 makes it property by property in C++, about a third of reading a page of
  // fifty connectors. The names are the statement's columns, as better-sqlite3's objects have them.
  // Each is prepared from a query compiled once with its columns named (compiled.ts), so they do
  // not change while it is kept.
  const rawReads = new Map<
    string,
    { statement: SqliteDatabase.Statement; objectOf: (row: unknown[]) => Record<string, unknown> } | null
  >();
  /**
   * The raw statement of `text` and its rows' maker, prepared once (inside the caller's try:
   * preparing reads the schema, which can be busy too, in WAL recovery); null for no read. With
   * `stamped`, the statement reads the stamp's data_version (below) as a first column before the
   * others, which the rows' objects leave out: `select a, b …` becomes `select (data_version), a, b …`
   * (null, and the caller reads without it, for SQL that does not begin so).
   */
  const rawReadOf = (text: string, stamped: boolean) => {
    const key = stamped ? `stamped\u0000${text}` : text;
    let read = rawReads.get(key);
    if (read === undefined) {
      const statement =
        !stamped || text.startsWith('select ')
          ? sqlite.prepare(stamped ? `select ${STAMP_COLUMN}, ${text.slice('select '.length)}` : text)
          : undefined;
      read = statement?.reader
        ? {
            statement: statement.raw(true),
            objectOf: rowObjectMaker(
              statement.columns().map((column) => column.name),
              stamped ? 1 : 0,
            ),
          }
        : null;
      if (rawReads.size >= MAX_PREPARED) rawReads.clear();
      rawReads.set(key, read);
    }
    return read;
  };
  /**
   * The statement of `text` in pluck mode (each row its first column's value), prepared once; null
   * for no read. Read at once for a page of connectors as one text per row (connector-store.ts):
   * raw mode made an array per row in C++, one element set at a time, and objectOf an object of it.
   */
  const firstColumnReads = new Map<string, SqliteDatabase.Statement | null>();
  const firstColumnReadOf = (text: string) => {
    let statement = firstColumnReads.get(text);
    if (statement === undefined) {
      const prepared = sqlite.prepare(text);
      statement = prepared.reader ? prepared.pluck(true) : null;
      if (firstColumnReads.size >= MAX_PREPARED) firstColumnReads.clear();
      firstColumnReads.set(text, statement);
    }
    return statement;
  };
  readNowOn(db, (text, parameters, firstColumn) => {
    if (closed || !sqlite.open || sqlite.inTransaction) return undefined;
    try {
      if (firstColumn) {
        const statement = firstColumnReadOf(text);
        return statement === null ? undefined : (statement.all(parameters as unknown[]) as unknown[]);
      }
      const read = rawReadOf(text, false);
      if (read === null) return undefined;
      return (read.statement.all(parameters as unknown[]) as unknown[][]).map(read.objectOf);
    } catch (error) {
      if (isLockBusy(error)) return undefined;
      throw error;
    }
  });
  // This connection's own changes of connector rows, reported as they are made (compiled.ts,
  // onOwnConnectorChange): TEMP triggers (this connection's alone) on insert, update and delete of
  // connectors call a function of ours for each row changed, whatever statement changed it (a
  // request's write, a migration's, a copy, a re-seal, a check result), inside that statement, so
  // also for changes later rolled back. What a reader keeps is dropped on the report of a change
  // that could touch it, instead of on every write of the connection to any table (an audit event,
  // an idempotency record, a delivery): those moved the old stamp (total_changes()) and dropped
  // every kept page and connector of every account. recursive_triggers: a REPLACE's deletes of the
  // rows in its way are reported too (no statement here uses REPLACE; a future one would be seen).
  const ownChangeListeners: OwnConnectorChange[] = [];
  /** Moves when a listener threw: every stamp read before is then unlike every one read after. */
  let ownChangeEpoch = 0;
  const reportOwnChange = (accountId: unknown, id: unknown, seq: unknown): null => {
    for (const listener of ownChangeListeners) {
      try {
        listener(Number(accountId), String(id), Number(seq));
      } catch {
        ownChangeEpoch++;
      }
    }
    return null;
  };
  sqlite.function(
    OWN_CHANGE_FUNCTION,
    { deterministic: false, directOnly: true, varargs: false },
    reportOwnChange,
  );
  sqlite.pragma('recursive_triggers = ON');
  ownConnectorChangesOn(db, (listener) => {
    ownChangeListeners.push(listener);
  });
  /** Whether the triggers are made (they are once there is a connectors table, and after each migration). */
  let triggersMade = false;
  onOwnSchemaChangeOn(db, () => {
    triggersMade = false;
    ownChangeEpoch++;
  });
  // The stamp (compiled.ts): PRAGMA data_version, which moves when another connection (of this
  // process or another) committed since this one's last read, read in a read transaction of its
  // own (that is how it sees other processes' commits), before the rows it stamps are read: a
  // commit between the stamp and the rows moves the next stamp. And the epoch, which moves when
  // this connection migrated (a table made again loses its TEMP triggers: they are made again) or
  // a listener failed. Without a connectors table (before the migrations) there is no stamp.
  // PRAGMA schema_version would see any DDL of this connection, but it is a second statement with
  // a read transaction of its own on every read (~ as much as data_version), where the old stamp's
  // total_changes() took none.
  let stampStatement: SqliteDatabase.Statement | undefined;
  /** Whether this connection reports its own changes now (the triggers made first): only then is there a stamp. */
  const reportsOwnChanges = (): boolean => {
    if (!triggersMade) {
      if (!makeOwnChangeTriggers(sqlite)) return false;
      triggersMade = true;
    }
    return true;
  };
  stampNowOn(db, () => {
    if (closed || !sqlite.open || sqlite.inTransaction) return undefined;
    try {
      if (!reportsOwnChanges()) return undefined;
      stampStatement ??= sqlite.prepare('pragma data_version').pluck(true);
      return `${String(stampStatement.get())}:${String(ownChangeEpoch)}`;
    } catch (error) {
      if (isLockBusy(error)) return undefined;
      throw error;
    }
  });
  // A read and the stamp of its snapshot in one statement (compiled.ts, StampedReadNow): the
  // stamp's data_version as a scalar subquery of pragma_data_version, evaluated in the statement's
  // own read transaction, so it is the data_version of the snapshot the rows come from (the same
  // value `pragma data_version` gives in that transaction). The epoch is read before the statement:
  // a read fires no trigger, so it cannot move meanwhile.
  stampedReadNowOn(db, (text, parameters) => {
    if (closed || !sqlite.open || sqlite.inTransaction) return undefined;
    try {
      const stamped = reportsOwnChanges() ? rawReadOf(text, true) : null;
      if (stamped === null) {
        const read = rawReadOf(text, false);
        if (read === null) return undefined;
        const rows = (read.statement.all(parameters as unknown[]) as unknown[][]).map(read.objectOf);
        return { rows, stamp: undefined };
      }
      const epoch = ownChangeEpoch;
      const raw = stamped.statement.all(parameters as unknown[]) as unknown[][];
      const [first] = raw;
      return {
        rows: raw.map(stamped.objectOf),
        // No row, no stamp: nothing read is kept.
        stamp: first === undefined ? undefined : `${String(first[0])}:${String(epoch)}`,
      };
    } catch (error) {
      if (isLockBusy(error)) return undefined;
      throw error;
    }
  });
  let checkpointer: Checkpointer | undefined;
  let checkpointerTimer: NodeJS.Timeout | undefined;
  const { checkpointThread } = options;
  const openedAt = Date.now();
  // The thread is asked for by the first delivery queued (app.ts): it pays for itself under a
  // stream of writes that each wait on the event loop (accepts, the worker's claims and records),
  // and costs 6-9 MB of memory (a V8 isolate) in a server that never delivers. It starts no sooner
  // than CHECKPOINTER_START_MS after the database opened: making a thread holds the event loop for
  // tens of milliseconds, which start-up would pay. Until then the commits checkpoint, as without it.
  const checkpointInBackground =
    checkpointThread && location.path !== ':memory:'
      ? () => {
          if (checkpointerTimer !== undefined || closed) return;
          checkpointerTimer = setTimeout(
            () => {
              if (closed) return;
              checkpointer = startCheckpointer(sqlite, {
                path: location.path,
                module: fromNodeModules.resolve('better-sqlite3'),
                nativeBinding,
                synchronous,
                onError: checkpointThread.onError,
              });
            },
            Math.max(0, openedAt + CHECKPOINTER_START_MS - Date.now()),
          );
          checkpointerTimer.unref();
        }
      : undefined;
  return {
    db,
    relaxed,
    location,
    ...(checkpointInBackground ? { checkpointInBackground } : {}),
    transact: groupCommit(
      db,
      sqlite,
      (query) => prepared.run(query),
      options.lockWaitMs ?? LOCK_WAIT_MS,
      Date.now,
      options.writeIntent,
      walSync,
    ),
    async ping() {
      // An empty IMMEDIATE transaction: it takes the write lock (as every write does, waiting up to
      // lockWaitMs) and writes nothing. `select 1` answered even while no write could succeed.
      await db.transaction().execute(async () => {});
      // The disk failed a flush of the WAL: writes are refused until a restart (wal-sync.ts).
      if (walSync?.failure) throw walSync.failure;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(checkpointerTimer);
      // Writes committed and waiting for their flush are answered first.
      await walSync?.drain();
      await checkpointer?.close();
      await db.destroy();
      // And a group that was running as the close began: destroy does not wait for it (Kysely's
      // SQLite driver closes at once), and a group that committed reaches its sync a few promise
      // hops later, so one turn of the event loop first. A group later still gets a WalSyncError
      // (wal-sync.ts), not a flush of a closed descriptor.
      await new Promise((resolve) => setImmediate(resolve));
      await walSync?.drain();
      walSync?.close();
    },
  };
}

/**
 * `journal_mode = WAL`, retried while another process holds the file: on a new database two
 * processes switching at once can both hold a shared lock and want an exclusive one, and SQLite
 * then answers SQLITE_BUSY. Synchronous, like the rest of opening (before the server listens).
 */
function switchToWal(sqlite: SqliteDatabase.Database, lockWaitMs: number): void {
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if (!isLockBusy(error) || Date.now() > deadline) throw error;
      // 10 to 30 ms, so two processes do not retry in step.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.random() * 20);
    }
  }
}

/**
 * A row's object from its raw array, made by one object literal with the statement's column names
 * (each a JSON string literal, whatever the name): every row of a statement gets the same shape at
 * once, where setting the names one by one in a loop went through V8's megamorphic keyed stores,
 * a few per cent of reading a page. Duplicate names: the last column wins, as it did.
 */
export function rowObjectMaker(
  names: readonly string[],
  /** Leading columns left out of the object (a stamp read with the row). */
  skip = 0,
): (row: unknown[]) => Record<string, unknown> {
  const fields = names
    .slice(skip)
    .map((name, i) => `${JSON.stringify(name)}: row[${i + skip}]`)
    .join(', ');
  return new Function('row', `return { ${fields} };`) as (row: unknown[]) => Record<string, unknown>;
}

/**
 * The stamp's data_version as a column of a read (stampedReadNowOn): pragma_data_version gives the
 * connection's data_version in the statement's read transaction, as `pragma data_version` does.
 */
const STAMP_COLUMN = '(select "data_version" from pragma_data_version) as "plugboard stamp"';

/** The function the TEMP triggers on connectors call for each row this connection changes. */
const OWN_CHANGE_FUNCTION = 'plugboard_own_connector_change';

/**
 * (Re)makes this connection's TEMP triggers that report its changes of connector rows (see
 * openSqlite); false when there is no connectors table (yet: before the migrations). An update
 * reports the row before and, when its account, id or seq changed, the row after.
 */
function makeOwnChangeTriggers(sqlite: SqliteDatabase.Database): boolean {
  const table = sqlite
    .prepare("select 1 from main.sqlite_master where type = 'table' and name = 'connectors'")
    .get();
  if (table === undefined) return false;
  const report = (row: 'new' | 'old') =>
    `select ${OWN_CHANGE_FUNCTION}(${row}.account_id, ${row}.id, ${row}.seq);`;
  sqlite.exec(`
    drop trigger if exists temp.plugboard_connector_inserted;
    drop trigger if exists temp.plugboard_connector_updated;
    drop trigger if exists temp.plugboard_connector_deleted;
    create temp trigger plugboard_connector_inserted after insert on main.connectors begin ${report('new')} end;
    create temp trigger plugboard_connector_deleted after delete on main.connectors begin ${report('old')} end;
    create temp trigger plugboard_connector_updated after update on main.connectors begin
      ${report('old')}
      select ${OWN_CHANGE_FUNCTION}(new.account_id, new.id, new.seq)
        where new.account_id is not old.account_id or new.id is not old.id or new.seq is not old.seq;
    end;
  `);
  return true;
}
