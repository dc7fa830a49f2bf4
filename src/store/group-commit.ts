import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type Kysely } from 'kysely';
import { arrivals } from './arrivals.js';
import { forgetRunNow, type RunNow, runNowOn } from './compiled.js';
import { isLockBusy } from './errors.js';
import type { Database } from './schema.js';
import type { Transact } from './transact.js';
import type { WalSync } from './wal-sync.js';

/** The most writes one group holds; the rest wait for the next group. */
export const MAX_GROUP = 32;

/**
 * Deadlines of statements that wait for the write lock until a moment of their own instead of the
 * lock wait counted from their first attempt (sqlite-database.ts reads them).
 */
const lockDeadlines = new WeakMap<CompiledQuery, number>();

/** The moment (Date.now() time) until which `query` may wait for the write lock, when it has one. */
export function lockDeadlineOf(query: CompiledQuery): number | undefined {
  return lockDeadlines.get(query);
}

interface Job {
  readonly work: (trx: Kysely<Database>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Until when this write may wait for another process's write lock: its arrival and the lock wait. */
  readonly deadline: number;
  /**
   * Run in a savepoint of its own: set on the writes of a group that had to be rolled back as a
   * whole because one of them failed after changing rows (see runGroup).
   */
  careful?: boolean;
}

/**
 * Group commit for SQLite. With `synchronous=FULL` every COMMIT waits for an fsync of the WAL,
 * and better-sqlite3 waits for it on the event loop: one write transaction per request made each
 * write cost a whole fsync. Here the writes that arrive together share one transaction, one
 * `BEGIN IMMEDIATE … COMMIT`, and every write of the group is answered only after the group's
 * COMMIT returned, so an answered write is as durable as before. When the COMMIT (or the
 * transaction as a whole: SQLITE_FULL, SQLITE_IOERR) fails, every write of the group gets the
 * error: none of them was stored.
 *
 * A write that fails is undone alone and its caller gets its error; the others commit. Most
 * writes that fail do so before they changed a row: a refused precondition or body, a UNIQUE
 * conflict on their first statement (SQLite undoes a failed statement itself). So the writes run
 * without savepoints, and the connection's count of changed rows (`total_changes()`) tells whether
 * a failed write had changed any: if not, there is nothing to undo. If it had, the group is rolled
 * back whole, the failed write gets its error, and the others run again at the head of the queue,
 * each in its own SAVEPOINT this time (`careful`), rolled back to it alone should it fail. A
 * SAVEPOINT and its RELEASE per write, and the pages each savepoint copied, were a good part of a
 * create's cost in SQLite.
 *
 * Another process holding the write lock: each write waits for it at most `lockWaitMs` from its
 * own arrival, as a write of its own would. The group's BEGIN waits until the earliest deadline of
 * its writes; when the lock is still taken then, the writes whose time is up get SQLITE_BUSY (a 503)
 * and the others go back to the head of the queue, to wait the rest of their own time.
 *
 * The group holds SQLite's one connection from BEGIN to COMMIT (Kysely's connection mutex), so no
 * other statement of this process, a read included, sees a write before it is committed. A group
 * starts after the event loop has taken in what arrived meanwhile (setImmediate), and while each
 * turn of the loop brings more writes, one more turn: the requests that arrive while others are
 * read commit together. A turn that brings none but brought other requests (arrivals.ts: the
 * server is busy) keeps the group open too, up to GROUP_WINDOW_MS from its first write: writes among
 * many reads otherwise came one or two per group, each group paying its BEGIN, COMMIT, shared pages
 * and flush alone. A turn that brings nothing starts the group at once, so waiting never leaves the
 * process idle (the loop polls without blocking while an immediate is pending), and a lone write on
 * an idle server waits one empty turn. Each COMMIT's fsync costs about as much CPU for 32 writes as for 12:
 * a write's share of it fell from ~55 to ~35 µs (raw better-sqlite3 groups of creates).
 *
 * At `synchronous = FULL` on a file (`walSync`), the COMMIT itself runs at NORMAL and the WAL's
 * fsync is an fdatasync on libuv's thread pool, after which the group's writes are answered
 * (wal-sync.ts): as durable when answered as before, but the event loop takes in and runs the next
 * group while the disk flushes, and groups that commit during one flush share the next. The commit
 * is visible to other readers before its flush returned (wal-sync.ts says what that means).
 *
 * `work` must only use the database through `trx` (a write of the group); waiting on anything else
 * holds up the whole group.
 *
 * Between BEGIN and COMMIT the group holds the connection with its transaction open, so the
 * group's own statements (SAVEPOINT, RELEASE, COMMIT) and the writes' compiled statements
 * (compiledOnce, through runNowOn) run at once with `run`, synchronously, instead of each going
 * through Kysely's executor and mutex as a chain of promises. Nothing is retried inside a
 * transaction either way (sqlite-database.ts), so the errors are the same.
 */
export function groupCommit(
  db: Kysely<Database>,
  sqlite: SqliteDatabase.Database,
  /** Runs one statement on the connection (PreparedConnection.run: its prepared-statement cache). */
  run: RunNow,
  lockWaitMs: number,
  now: () => number = Date.now,
  /** Shared with another thread's connection (DatabaseOptions.writeIntent): element 0 set while a group runs, element 1 read. */
  intent?: Int32Array,
  /** At `synchronous = FULL` on a file: the groups commit relaxed and their WAL is synced off the event loop (wal-sync.ts). */
  walSync?: WalSync,
): Transact {
  const queue: Job[] = [];
  let scheduled = false;
  /** Rows changed on the connection since it opened (inserted, updated, deleted; a failed statement's none). */
  const totalChanges = sqlite.prepare('select total_changes()').pluck();
  const changesSoFar = () => totalChanges.get() as number;

  const schedule = () => {
    if (scheduled || queue.length === 0) return;
    scheduled = true;
    let queued = queue.length;
    const opened = performance.now();
    /** While the other thread's connection is in a transaction (intent[1]), wait turns rather than a BUSY's pause; not past this. */
    const waitTurnsUntil = opened + TURN_WAIT_MS;
    let seen = arrivals();
    const start = () => {
      const now = arrivals();
      // Busy: two requests or more began during the turn. One is what a steady trickle of writes
      // brings (each write's own request, a turn before its write): waiting for it only made each
      // write wait (500 accepts/s: p99 11-14 -> 15 ms), where a loaded server's turns bring many.
      const arrived = now - seen >= BUSY_ARRIVALS;
      seen = now;
      if (queue.length < MAX_GROUP) {
        // More came in this turn, and there is room for more: take in another turn first.
        if (queue.length > queued) {
          queued = queue.length;
          setImmediate(start);
          return;
        }
        // None came, but other requests did (the server is busy): the group stays open for another
        // turn, up to GROUP_WINDOW_MS from its first write. A turn that brought nothing starts it.
        if (arrived && performance.now() - opened < GROUP_WINDOW_MS) {
          setImmediate(start);
          return;
        }
      }
      if (intent && Atomics.load(intent, 1) !== 0) {
        const left = waitTurnsUntil - performance.now();
        if (left > 0) {
          // Woken by the thread's notify when its transaction ends (or at the time left), not by
          // turns of the event loop: a turn after turn spent the core the thread needed to end it.
          const waited = waitAsync(intent, 1, 1, left);
          if (waited.async) void waited.value.then(() => setImmediate(start));
          else setImmediate(start);
          return;
        }
      }
      const group = queue.splice(0, MAX_GROUP);
      if (intent) Atomics.store(intent, 0, 1);
      runGroup(group).finally(() => {
        scheduled = false;
        if (intent) {
          Atomics.store(intent, 0, 0);
          Atomics.notify(intent, 0);
        }
        schedule();
      });
    };
    setImmediate(start);
  };

  async function runGroup(group: Job[]): Promise<void> {
    /** Writes that succeeded in the group, answered after the COMMIT. */
    const done: { job: Job; value: unknown }[] = [];
    /** A write that failed after changing rows, outside a savepoint: the group is rolled back for it. */
    let spoiler: { job: Job; error: unknown } | undefined;
    const careful = group.some((job) => job.careful);
    let began = false;
    /** Committing at NORMAL, to be answered after walSync's fdatasync. */
    let relaxed = false;
    try {
      await db.connection().execute(async (connection) => {
        const begin = CompiledQuery.raw('begin immediate');
        lockDeadlines.set(begin, Math.min(...group.map((job) => job.deadline)));
        relaxed = walSync?.relax() ?? false;
        if (relaxed) {
          // Begun here, at once, not through the connection's lock wait: that lends the connection
          // between tries, and a statement of someone else's would run at NORMAL meanwhile. When
          // another connection holds the lock, this group waits for it as usual, at FULL.
          try {
            run(begin);
          } catch (error) {
            relaxed = false;
            walSync?.restore();
            if (!isLockBusy(error)) throw error;
            await connection.executeQuery(begin);
          }
        } else {
          await connection.executeQuery(begin);
        }
        began = true;
        runNowOn(connection, run);
        try {
          for (const job of group) {
            if (careful) {
              run(SAVEPOINT);
              try {
                const value = await job.work(connection);
                run(RELEASE);
                done.push({ job, value });
              } catch (error) {
                // SQLite rolled the whole transaction back (SQLITE_FULL, SQLITE_IOERR, …): the group failed.
                if (!sqlite.inTransaction) throw error;
                run(ROLLBACK_TO);
                run(RELEASE);
                job.reject(error);
              }
              continue;
            }
            const before = changesSoFar();
            try {
              done.push({ job, value: await job.work(connection) });
            } catch (error) {
              if (!sqlite.inTransaction) throw error;
              if (changesSoFar() !== before) {
                spoiler = { job, error };
                break;
              }
              // It changed nothing: nothing to undo.
              job.reject(error);
            }
          }
          run(spoiler ? ROLLBACK : COMMIT);
        } catch (error) {
          if (sqlite.inTransaction) {
            try {
              run(ROLLBACK);
            } catch {}
          }
          throw error;
        } finally {
          forgetRunNow(connection);
          if (relaxed && !sqlite.inTransaction) walSync?.restore();
        }
      });
    } catch (error) {
      if (!began && isLockBusy(error)) {
        // The lock was not had: the writes whose own wait is over give up (a 503); the others wait on.
        const at = now();
        const waiting: Job[] = [];
        for (const job of group) {
          if (job.deadline <= at) job.reject(error);
          else waiting.push(job);
        }
        queue.unshift(...waiting);
        return;
      }
      // Nothing of the group is stored: every write of it gets the error, those that ran included.
      for (const job of group) job.reject(error);
      return;
    }
    if (spoiler) {
      // Rolled back: the write that spoiled it gets its error, the others run again, each in a savepoint.
      spoiler.job.reject(spoiler.error);
      const after = group.slice(group.indexOf(spoiler.job) + 1);
      const again = [...done.map(({ job }) => job), ...after];
      for (const job of again) job.careful = true;
      queue.unshift(...again);
      return;
    }
    if (relaxed && walSync && done.length > 0) {
      // Committed without an fsync: answered once the WAL is on the disk. The next group starts now.
      walSync.sync((error) => {
        for (const { job, value } of done) {
          if (error) job.reject(error);
          else job.resolve(value);
        }
      });
      return;
    }
    for (const { job, value } of done) job.resolve(value);
  }

  return <T>(work: (trx: Kysely<Database>) => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push({
        work,
        resolve: resolve as (value: unknown) => void,
        reject,
        deadline: now() + lockWaitMs,
      });
      schedule();
    });
}

/**
 * How long a group waits (woken by the thread's notify) for the deliveries thread's transaction to end (its
 * claims and records hold the lock for a fraction of a millisecond, without an fsync) before it
 * begins anyway and waits as for any other holder of the lock (a pause of 2 ms and more).
 */
const TURN_WAIT_MS = 5;

/**
 * How long a group stays open for more writes while the event loop is busy with other requests,
 * from its first write. Each group costs about the same whatever its size (its BEGIN and COMMIT,
 * the WAL frames of the pages its writes share, the flush and its wake-ups): the store's creates on a
 * copy of the bench's database cost 588, 212 and 108 µs of CPU each in groups of 1, 4 and 16 (a
 * loaded machine; ~500 µs a group). Among many reads (the bench's mix) writes came one or two per group.
 */
const GROUP_WINDOW_MS = 4;

/** Requests begun in one turn of the event loop from which the server counts as busy. */
const BUSY_ARRIVALS = 2;

/** Atomics.waitAsync (ES2024; V8 has it since Node 16), which the project's `lib` does not declare. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

const SAVEPOINT = CompiledQuery.raw('savepoint plugboard_write');
const RELEASE = CompiledQuery.raw('release plugboard_write');
const ROLLBACK_TO = CompiledQuery.raw('rollback to plugboard_write');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');
