import { fdatasync, fstatSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatabaseHandle, type DatabaseOptions, openDatabase } from './database.js';
import { isDatabaseUnavailable } from './errors.js';
import { createWalSync, type SyncFile, WalSyncError } from './wal-sync.js';

let dir: string;
let path: string;
let handle: DatabaseHandle | undefined;
/** Another connection to the same file: what another reader sees. */
let other: SqliteDatabase.Database | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'plugboard-walsync-'));
  path = join(dir, 'p.db');
});
afterEach(async () => {
  other?.close();
  other = undefined;
  await handle?.close();
  handle = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A flush that returns only when the test says so (really flushing first), counting its calls. */
function heldSync() {
  const pending: { fd: number; done: (error: NodeJS.ErrnoException | null) => void }[] = [];
  const sync: SyncFile = (fd, done) => {
    pending.push({ fd, done });
  };
  return {
    sync,
    pending,
    /** Ends the oldest flush running, with `error` or after a real fdatasync. */
    release(error?: NodeJS.ErrnoException) {
      const next = pending.shift();
      if (!next) throw new Error('no flush is running');
      if (error) next.done(error);
      else fdatasync(next.fd, next.done);
    },
  };
}

/** What fdatasync gives when the disk failed to write. */
const eioError = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5 });

async function open(options: DatabaseOptions = {}) {
  handle = openDatabase({ kind: 'sqlite', path }, options);
  await sql`create table t (x integer unique)`.execute(handle.db);
  other = new SqliteDatabase(path, { timeout: 0 });
  return handle;
}

const insert = (x: number) => {
  const transact = handle?.transact;
  if (!transact) throw new Error('a SQLite handle groups its writes');
  return transact(async (trx) => {
    await sql`insert into t values (${x})`.execute(trx);
    return x;
  });
};
const rows = () => {
  if (!other) throw new Error('open() first');
  return (other.prepare('select x from t order by x').all() as { x: number }[]).map((r) => r.x);
};
/** Lets the event loop run a few turns (a group starts after a turn with nothing new). */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};
const settled = (promise: Promise<unknown>) => {
  const state = { done: false };
  promise.then(
    () => {
      state.done = true;
    },
    () => {
      state.done = true;
    },
  );
  return state;
};

describe('write groups flush the WAL off the event loop (synchronous = FULL)', () => {
  it('answers a write only after the flush that began after its COMMIT returned', async () => {
    const disk = heldSync();
    const h = await open({ syncFile: disk.sync });
    const write = insert(1);
    const state = settled(write);
    await turns();
    // Committed (another reader sees it: the window wal-sync.ts describes) but not answered.
    expect(rows()).toEqual([1]);
    expect(disk.pending).toHaveLength(1);
    expect(state.done).toBe(false);
    disk.release();
    await expect(write).resolves.toBe(1);
    // The connection is back at FULL for everything else it runs.
    const { rows: setting } = await sql<{ synchronous: number }>`pragma synchronous`.execute(h.db);
    expect(setting[0]?.synchronous).toBe(2);
  });

  it('flushes the file the WAL is (the descriptor is on its inode)', async () => {
    const fds: number[] = [];
    await open({
      syncFile: (fd, done) => {
        fds.push(fd);
        fdatasync(fd, done);
      },
    });
    await insert(1);
    await insert(2);
    expect(fds.length).toBeGreaterThanOrEqual(1);
    expect(new Set(fds).size).toBe(1);
    const held = fstatSync(fds[0] as number);
    const wal = statSync(`${path}-wal`);
    expect([held.dev, held.ino]).toEqual([wal.dev, wal.ino]);
  });

  it('covers the groups that commit during a flush with the next one (coalescing), while the loop runs them', async () => {
    const disk = heldSync();
    await open({ syncFile: disk.sync });
    const first = insert(1);
    await turns();
    expect(disk.pending).toHaveLength(1);
    // Two more groups commit while the first flush runs: neither starts a flush of its own yet.
    const second = insert(2);
    await turns();
    const third = insert(3);
    await turns();
    expect(rows()).toEqual([1, 2, 3]);
    expect(disk.pending).toHaveLength(1);
    const states = [settled(first), settled(second), settled(third)];
    disk.release();
    await first;
    await turns();
    // The first group is answered; one flush, begun after both commits, covers the other two.
    expect(disk.pending).toHaveLength(1);
    expect(states.map((s) => s.done)).toEqual([true, false, false]);
    disk.release();
    await expect(Promise.all([second, third])).resolves.toEqual([2, 3]);
    expect(disk.pending).toHaveLength(0);
  });

  it('fails every write of the groups a failed flush covered (a 503; their rows exist), and every write after it', async () => {
    const disk = heldSync();
    const h = await open({ syncFile: disk.sync });
    const first = insert(1);
    await turns();
    const second = insert(2);
    await turns();
    disk.release();
    await first;
    await turns();
    const eio = eioError();
    disk.release(eio);
    const error = await second.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalSyncError);
    expect((error as WalSyncError).cause).toBe(eio);
    expect(isDatabaseUnavailable(error)).toBe(true);
    // Committed, not known durable: the row is there.
    expect(rows()).toEqual([1, 2]);
    // From now on no group begins: nothing is stored, the ping (/healthz) fails too.
    await expect(insert(3)).rejects.toBeInstanceOf(WalSyncError);
    expect(rows()).toEqual([1, 2]);
    expect(disk.pending).toHaveLength(0);
    await expect(h.ping()).rejects.toBeInstanceOf(WalSyncError);
  });

  it('fails the groups that committed while the failed flush ran: no later flush vouches for them', async () => {
    const disk = heldSync();
    await open({ syncFile: disk.sync });
    const first = insert(1);
    await turns();
    expect(disk.pending).toHaveLength(1);
    // Committed during the flush that will fail: waits for the next one, which must not run.
    const second = insert(2);
    await turns();
    expect(rows()).toEqual([1, 2]);
    const eio = eioError();
    disk.release(eio);
    await expect(first).rejects.toBeInstanceOf(WalSyncError);
    await expect(second).rejects.toBeInstanceOf(WalSyncError);
    expect(disk.pending).toHaveLength(0);
  });

  it('waits for a flush in flight before closing', async () => {
    const disk = heldSync();
    const h = await open({ syncFile: disk.sync });
    const write = insert(1);
    await turns();
    const closing = h.close();
    const closed = settled(closing);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(closed.done).toBe(false);
    disk.release();
    await expect(write).resolves.toBe(1);
    await closing;
    handle = undefined;
  });

  it('leaves synchronous = NORMAL and :memory: as they were (no flush of ours)', async () => {
    let flushes = 0;
    const counted: SyncFile = (fd, done) => {
      flushes++;
      fdatasync(fd, done);
    };
    await open({ synchronous: 'NORMAL', syncFile: counted });
    await Promise.all([insert(1), insert(2)]);
    const memory = openDatabase({ kind: 'sqlite', path: ':memory:' }, { syncFile: counted });
    try {
      await sql`create table t (x integer)`.execute(memory.db);
      await memory.transact?.(async (trx) => sql`insert into t values (1)`.execute(trx));
    } finally {
      await memory.close();
    }
    expect(flushes).toBe(0);
  });
});

describe('createWalSync', () => {
  /** Records the pragmas it was told to run. */
  const fakeSqlite = () => {
    const ran: string[] = [];
    return { ran, sqlite: { exec: (text: string) => ran.push(text) } as unknown as SqliteDatabase.Database };
  };

  it('commits as configured until the WAL exists, and for good once another file takes its name', () => {
    const { ran, sqlite } = fakeSqlite();
    const db = join(dir, 'x.db');
    writeFileSync(db, '');
    const wal = createWalSync(sqlite, db);
    expect(wal.relax()).toBe(false);
    writeFileSync(`${db}-wal`, 'frames');
    expect(wal.relax()).toBe(true);
    wal.restore();
    expect(ran).toEqual(['pragma synchronous = NORMAL', 'pragma synchronous = FULL']);
    // Replaced (never done by SQLite while the database is open): FULL from now on, even if it came back.
    renameSync(`${db}-wal`, `${db}-old`);
    writeFileSync(`${db}-wal`, 'other');
    expect(wal.relax()).toBe(false);
    renameSync(`${db}-old`, `${db}-wal`);
    expect(wal.relax()).toBe(false);
    wal.close();
  });
});
