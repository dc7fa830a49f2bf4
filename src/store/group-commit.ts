import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type Kysely } from 'kysely';
import { forgetRunNow, type RunNow, runNowOn } from './compiled.js';
import { isLockBusy } from './errors.js';
import type { Database } from './schema.js';
import type { Transact } from './transact.js';

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
}

/**
 * Group commit for SQLite. With `synchronous=FULL` every COMMIT waits for an fsync of the WAL,
 * and better-sqlite3 waits for it on the event loop: one write transaction per request made each
 * write cost a whole fsync. Here the writes that arrive together share one transaction: each runs
 * in its own SAVEPOINT inside one `BEGIN IMMEDIATE … COMMIT` (a write that fails is rolled back to
 * its savepoint, alone, and its caller gets its error), and every write of the group is answered
 * only after the group's COMMIT returned, so an answered write is as durable as before. When the
 * COMMIT (or the transaction as a whole: SQLITE_FULL, SQLITE_IOERR) fails, every write of the
 * group gets the error: none of them was stored.
 *
 * Another process holding the write lock: each write waits for it at most `lockWaitMs` from its
 * own arrival, as a write of its own would. The group's BEGIN waits until the earliest deadline of
 * its writes; when the lock is still taken then, the writes whose time is up get SQLITE_BUSY (a 503)
 * and the others go back to the head of the queue, to wait the rest of their own time.
 *
 * The group holds SQLite's one connection from BEGIN to COMMIT (Kysely's connection mutex), so no
 * other statement of this process, a read included, sees a write before it is committed. The next
 * group starts after the event loop has taken in what arrived meanwhile (setImmediate), so the
 * requests read in one turn of the loop commit together.
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
): Transact {
  const queue: Job[] = [];
  let scheduled = false;

  const schedule = () => {
    if (scheduled || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      const group = queue.splice(0, MAX_GROUP);
      runGroup(group).finally(() => {
        scheduled = false;
        schedule();
      });
    });
  };

  async function runGroup(group: Job[]): Promise<void> {
    /** Writes that succeeded in the group, answered after the COMMIT. */
    const done: { job: Job; value: unknown }[] = [];
    let began = false;
    try {
      await db.connection().execute(async (connection) => {
        const begin = CompiledQuery.raw('begin immediate');
        lockDeadlines.set(begin, Math.min(...group.map((job) => job.deadline)));
        await connection.executeQuery(begin);
        began = true;
        runNowOn(connection, run);
        try {
          for (const job of group) {
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
          }
          run(COMMIT);
        } catch (error) {
          if (sqlite.inTransaction) {
            try {
              run(ROLLBACK);
            } catch {}
          }
          throw error;
        } finally {
          forgetRunNow(connection);
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

const SAVEPOINT = CompiledQuery.raw('savepoint plugboard_write');
const RELEASE = CompiledQuery.raw('release plugboard_write');
const ROLLBACK_TO = CompiledQuery.raw('rollback to plugboard_write');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');
