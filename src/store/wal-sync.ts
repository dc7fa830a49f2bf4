import { closeSync, fdatasync, fstatSync, openSync, realpathSync, type Stats, statSync } from 'node:fs';
import type SqliteDatabase from 'better-sqlite3';

/** Flushes a file descriptor's data to the disk and calls back (fs.fdatasync; tests give a fake). */
export type SyncFile = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

/**
 * A write group's COMMIT went into the WAL, but flushing the WAL to the disk failed: the group's
 * rows are committed (other readers see them, a crash of the process keeps them) but may be lost on
 * a power loss. Its code is SQLite's for a failed fsync, so the API answers 503 like any other I/O
 * error of the database; unlike those, the write may exist.
 */
export class WalSyncError extends Error {
  readonly code = 'SQLITE_IOERR_FSYNC';
  constructor(cause: unknown) {
    super(
      'flushing the WAL to the disk failed: the write was committed and may be stored, but is not known to survive a power loss',
      { cause },
    );
    this.name = 'WalSyncError';
  }
}

/**
 * The fsync of a write group's COMMIT, off the event loop (group-commit.ts uses it when the
 * connection's `synchronous` is FULL on a file).
 *
 * With `synchronous = FULL` SQLite syncs the WAL inside every COMMIT, and better-sqlite3 runs the
 * COMMIT on the event loop: a group of 20-30 writes held the loop 2-12 ms on a loaded disk for
 * about 1 ms of CPU, while requests waited to be read. Here the group's transaction runs at
 * `synchronous = NORMAL` instead (in WAL mode: no sync at commit; SQLite still syncs the WAL
 * before each checkpoint and the database file after it, and the WAL's header whenever it starts
 * over, so the file is as consistent as at FULL), and then `fdatasync` of the WAL file runs on
 * libuv's thread pool; the group's writes are answered only after it returned. So an answered write
 * is on the disk as at FULL: the same file flushed, only by another descriptor of it, after the
 * COMMIT instead of inside it. Meanwhile the event loop takes in and runs the next group.
 *
 * Syncs coalesce: while one is running, the groups that commit meanwhile wait for the next one,
 * which covers them all (between checkpoints the WAL only grows; a checkpoint syncs the WAL
 * before it copies it back, and the WAL restarting after it has its header synced by SQLite).
 *
 * What changes: a committed group is visible to other readers (other requests on this connection,
 * the deliveries thread, the checkpointer, another process) from its COMMIT, before its sync
 * returned, while its own writers are not answered yet. A power loss in that window (a fraction of
 * a millisecond to a few) loses what they saw, as it loses the unanswered writes; a write that
 * depends on it (an update of a connector created there) is answered only after a later sync, which
 * covers both. At FULL SQLite made a commit visible only after its fsync.
 *
 * A sync that fails (EIO, ENOSPC) fails every write of the groups it covered (WalSyncError: a 503;
 * their rows may exist). After a failed flush Linux may drop the pages it could not write and
 * report the next flush as successful, so no later group could be vouched for either: from then on
 * every group fails before it begins (the same error) until the server restarts.
 *
 * The descriptor is the WAL's own file: it is opened once the WAL exists, and each group checks
 * that the WAL's path still names the same file (device and inode); if not, or if the WAL does not
 * exist yet, the group commits at FULL on the event loop as before. SQLite keeps the WAL file while
 * any connection has the database open in WAL mode (each holds a shared lock on the database file;
 * the last one to close deletes it), truncates it in place (journal_size_limit, TRUNCATE
 * checkpoints) and never replaces it.
 */
export interface WalSync {
  /**
   * Before a group's BEGIN, outside a transaction: true when the group commits relaxed (the
   * setting is NORMAL until `restore`), false when it commits at FULL as configured. Throws the
   * failure of an earlier sync, once one failed.
   */
  relax(): boolean;
  /** After a relaxed group's COMMIT or ROLLBACK, outside a transaction: FULL again. */
  restore(): void;
  /** After a relaxed COMMIT: `done` once an fdatasync of the WAL begun after this call returned, with its failure if it failed. */
  sync(done: (error?: WalSyncError) => void): void;
  /** The failure that stopped relaxed groups, if one did (the handle's ping reports it). */
  readonly failure: WalSyncError | undefined;
  /** Resolves when no sync runs or waits (before the connection closes). */
  drain(): Promise<void>;
  /** Closes the descriptor; after drain. */
  close(): void;
}

export function createWalSync(
  sqlite: SqliteDatabase.Database,
  /** The database file's path, as opened. */
  databasePath: string,
  syncFile: SyncFile = fdatasync,
): WalSync {
  /** Where SQLite keeps the WAL: beside the database file, symbolic links resolved (as its unix VFS does). */
  let walPath: string | undefined;
  let fd: number | undefined;
  /** The descriptor's file changed under it: no more relaxed groups (should never happen; see above). */
  let disabled = false;
  let failure: WalSyncError | undefined;
  let running = false;
  /** Groups committed since the running sync began: the next sync covers them. */
  let waiting: ((error?: WalSyncError) => void)[] = [];
  let drained: (() => void)[] = [];

  /** Whether `fd` is open on the file the WAL's path names now (opening it when the WAL exists). */
  const onTheWal = (): boolean => {
    if (walPath === undefined) {
      try {
        walPath = `${realpathSync(databasePath)}-wal`;
      } catch {
        return false;
      }
    }
    let named: Stats | undefined;
    let held: Stats;
    try {
      named = statSync(walPath, { throwIfNoEntry: false });
      if (named === undefined) return false;
      fd ??= openSync(walPath, 'r');
      held = fstatSync(fd);
    } catch {
      // Not open (EMFILE, EACCES) or not readable now: this group commits as configured.
      return false;
    }
    if (held.ino === named.ino && held.dev === named.dev) return true;
    // Another file under the WAL's name: commit as configured from now on; the descriptor closes
    // once no sync uses it.
    disabled = true;
    return false;
  };

  const settleDrain = () => {
    const waiters = drained;
    drained = [];
    for (const resolve of waiters) resolve();
  };

  const start = () => {
    const batch = waiting;
    waiting = [];
    if (fd === undefined) {
      // Closed under a group that committed as the connection closed: not known durable.
      const closedError = new WalSyncError(new Error('the WAL descriptor was closed before the flush'));
      for (const done of batch) done(closedError);
      settleDrain();
      return;
    }
    running = true;
    syncFile(fd, (error) => {
      running = false;
      if (error) failure ??= new WalSyncError(error);
      const outcome = error ? new WalSyncError(error) : undefined;
      for (const done of batch) done(outcome);
      if (failure) {
        // The groups that committed while the failed flush ran are not vouched for by a later one:
        // Linux may have dropped the pages it could not write and report the next flush as a success.
        const after = waiting;
        waiting = [];
        for (const done of after) done(failure);
        settleDrain();
      } else if (waiting.length > 0) start();
      else settleDrain();
    });
  };

  return {
    relax() {
      if (failure) throw failure;
      if (disabled || !onTheWal()) return false;
      // Run with exec each time: SQLite applies this pragma when the statement is compiled.
      sqlite.exec('pragma synchronous = NORMAL');
      return true;
    },
    restore() {
      sqlite.exec('pragma synchronous = FULL');
    },
    sync(done) {
      // A group that began before a flush failed and committed after it: failed as the others.
      if (failure) {
        done(failure);
        return;
      }
      waiting.push(done);
      if (!running) start();
    },
    get failure() {
      return failure;
    },
    drain() {
      if (!running && waiting.length === 0) return Promise.resolve();
      return new Promise((resolve) => drained.push(resolve));
    },
    close() {
      if (fd !== undefined && !running) {
        closeSync(fd);
        fd = undefined;
      }
    },
  };
}
