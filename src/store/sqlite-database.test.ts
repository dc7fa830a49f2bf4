import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHashing } from '../secrets/hash-key.js';
import { AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import { compiledOnce, stampNow } from './compiled.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './database.js';
import { isDatabaseUnavailable } from './errors.js';
import { createKeyStore } from './key-store.js';
import { isLockBusy, withoutLockWait } from './sqlite-database.js';

const LOCK_WAIT_MS = 600;

let dir: string;
let handle: DatabaseHandle;
/** Another connection to the same file: another process, as far as SQLite's locks go. */
let other: SqliteDatabase.Database;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plugboard-sqlite-'));
  const path = join(dir, 'p.db');
  handle = openDatabase({ kind: 'sqlite', path }, { lockWaitMs: LOCK_WAIT_MS });
  await migrateToLatest(handle);
  await sql`create table t (x integer)`.execute(handle.db);
  other = new SqliteDatabase(path, { timeout: 0 });
});
afterEach(async () => {
  if (other.inTransaction) other.exec('rollback');
  other.close();
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Holds the write lock in `other` for `ms`. */
function holdWriteLock(ms: number): Promise<void> {
  other.exec('begin immediate');
  return new Promise((resolve) =>
    setTimeout(() => {
      other.exec('rollback');
      resolve();
    }, ms),
  );
}

/** The longest the event loop went without running a timer while `work` ran. */
async function longestStall<T>(
  work: Promise<T>,
): Promise<{ result: PromiseSettledResult<T>; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  try {
    const [result] = await Promise.allSettled([work]);
    return { result: result as PromiseSettledResult<T>, stallMs };
  } finally {
    clearInterval(ticker);
  }
}

const count = async () =>
  (await sql<{ n: number }>`select count(*) as n from t`.execute(handle.db)).rows[0]?.n;

describe('waiting for another process’s write lock', () => {
  it('waits for a transaction without blocking the event loop, and lets reads through meanwhile', async () => {
    const released = holdWriteLock(300);
    const started = Date.now();
    const write = handle.db.transaction().execute(async (trx) => {
      await sql`insert into t values (1)`.execute(trx);
    });
    // A read on the same (single) connection answers while the write waits.
    const readStarted = Date.now();
    expect(await count()).toBe(0);
    expect(Date.now() - readStarted).toBeLessThan(100);

    const { result, stallMs } = await longestStall(write);
    expect(result.status).toBe('fulfilled');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(stallMs).toBeLessThan(100);
    await released;
    expect(await count()).toBe(1);
  });

  it('retries an auto-commit write until the lock is let go', async () => {
    const released = holdWriteLock(200);
    const { result, stallMs } = await longestStall(sql`insert into t values (2)`.execute(handle.db));
    expect(result.status).toBe('fulfilled');
    expect(stallMs).toBeLessThan(100);
    await released;
    expect(await count()).toBe(1);
  });

  it('gives up after lockWaitMs with SQLITE_BUSY, an error answered with 503', async () => {
    const released = holdWriteLock(2 * LOCK_WAIT_MS + 500);
    const started = Date.now();
    const { result, stallMs } = await longestStall(
      handle.db.transaction().execute(async (trx) => {
        await sql`insert into t values (3)`.execute(trx);
      }),
    );
    const waited = Date.now() - started;
    expect(result.status).toBe('rejected');
    const error = result.status === 'rejected' ? result.reason : undefined;
    expect(isLockBusy(error)).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(LOCK_WAIT_MS - 10);
    expect(waited).toBeLessThan(LOCK_WAIT_MS + 300);
    expect(stallMs).toBeLessThan(100);
    // The ping (/healthz) says so in the same time.
    await expect(handle.ping()).rejects.toSatisfy(isLockBusy);
    await released;
    // And it works again without reopening.
    await handle.ping();
    await sql`insert into t values (4)`.execute(handle.db);
    expect(await count()).toBe(1);
  });

  it('does not wait inside withoutLockWait, nor in a key’s touch', async () => {
    const keys = createKeyStore(handle.db, createHashing(randomBytes(32)));
    const { id } = await keys.create('acme', 'write', 'test');
    const released = holdWriteLock(LOCK_WAIT_MS);
    const started = Date.now();
    await expect(
      withoutLockWait(handle.db, sql`insert into t values (5)`.compile(handle.db)),
    ).rejects.toSatisfy(isLockBusy);
    await expect(keys.touch(id, new Date().toISOString())).rejects.toSatisfy(isLockBusy);
    expect(Date.now() - started).toBeLessThan(100);
    // Other statements still wait.
    await sql`insert into t values (6)`.execute(handle.db);
    await released;
    expect(await count()).toBe(1);
  });

  it('never retries inside a transaction: it holds the write lock already', async () => {
    await handle.db.transaction().execute(async (trx) => {
      await sql`insert into t values (7)`.execute(trx);
      // Another connection cannot take the lock meanwhile.
      expect(() => other.exec('begin immediate')).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
    });
    expect(await count()).toBe(1);
  });

  it('a relaxed write waiting for the lock lends the connection at FULL, never at NORMAL', async () => {
    const relaxed = handle.relaxed;
    if (!relaxed) throw new Error('SQLite has a relaxed handle');
    const level = async () =>
      (await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db)).rows[0]?.synchronous;
    const released = holdWriteLock(200);
    const write = sql`insert into t values (8)`.execute(relaxed);
    const trx = relaxed.transaction().execute(async (t) => {
      await sql`insert into t values (9)`.execute(t);
    });
    // Both wait for the lock; what runs meanwhile on the connection runs at FULL.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await level()).toBe(2);
    await Promise.all([write, trx, released]);
    expect(await level()).toBe(2);
    expect(await count()).toBe(2);
  });
});

/** `select x from t where x > ?`, compiled once (the hot reads' form). */
const rowsOfT = () =>
  compiledOnce(
    handle.db
      .selectFrom('t' as never)
      .select(sql<number>`x`.as('x'))
      .where(sql`x`, '>', -1)
      .compile(),
    [-1] as const,
  );

describe('hot reads run at once (compiledOnce)', () => {
  it('refuses a * result list (a named statement on PostgreSQL would break when a column is added)', () => {
    const all = handle.db
      .selectFrom('t' as never)
      .selectAll()
      .where(sql`x`, '>', -1)
      .compile();
    expect(() => compiledOnce(all, [-1] as const)).toThrow(/name the columns instead of \*/);
    const counted = handle.db
      .selectFrom('t' as never)
      .select(sql<number>`count(*)`.as('n'))
      .where(sql`x`, '>', -1)
      .compile();
    expect(() => compiledOnce(counted, [-1] as const)).not.toThrow();
  });

  it('run when called when no transaction is open: a row committed elsewhere right after the call is not in the answer', async () => {
    await sql`insert into t values (1), (2)`.execute(handle.db);
    const answer = rowsOfT()(handle.db, 0);
    // Through Kysely's executor the statement would run a few turns later, and see this row.
    other.exec('insert into t values (3)');
    expect((await answer).rows).toEqual([{ x: 1 }, { x: 2 }]);
    expect((await rowsOfT()(handle.db, 0)).rows).toHaveLength(3);
  });

  it('never see the rows of a transaction still open on the connection: they wait for it, and see what it committed', async () => {
    const read = rowsOfT();
    let insideRead: Promise<{ rows: { x: number }[] }> | undefined;
    await handle.db
      .transaction()
      .execute(async (trx) => {
        await sql`insert into t values (3)`.execute(trx);
        insideRead = read(handle.db, 0);
        // A turn for the read to run, were it to run at once.
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('roll back');
      })
      .catch(() => {});
    expect((await insideRead)?.rows).toEqual([]);
    const afterCommit = handle.db.transaction().execute(async (trx) => {
      await sql`insert into t values (4)`.execute(trx);
      const during = read(handle.db, 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { during };
    });
    expect((await (await afterCommit).during).rows).toEqual([{ x: 4 }]);
  });
});

describe('a hot read of one column (nowFirstColumn)', () => {
  it('gives each row its value alone, as now gives it in an object, and nothing while a transaction is open', async () => {
    await sql`insert into t values (1), (2)`.execute(handle.db);
    const read = rowsOfT();
    expect(read.nowFirstColumn(handle.db, 0)).toEqual([1, 2]);
    expect(read.now(handle.db, 0)).toEqual([{ x: 1 }, { x: 2 }]);
    other.exec('insert into t values (3)');
    expect(read.nowFirstColumn(handle.db, 1)).toEqual([2, 3]);
    await handle.db.transaction().execute(async () => {
      expect(read.nowFirstColumn(handle.db, 0)).toBeUndefined();
    });
  });
});

describe('a hot read with its stamp (nowStamped)', () => {
  it("gives the rows and the stamp stampNow gives for the same snapshot; another connection's commit moves both", async () => {
    await sql`insert into t values (1)`.execute(handle.db);
    const read = rowsOfT();
    const first = read.nowStamped(handle.db, 0);
    expect(first?.rows).toEqual([{ x: 1 }]);
    expect(first?.stamp).toBeDefined();
    expect(first?.stamp).toBe(stampNow(handle.db));
    other.exec('insert into t values (2)');
    const second = read.nowStamped(handle.db, 0);
    expect(second?.rows).toEqual([{ x: 1 }, { x: 2 }]);
    expect(second?.stamp).not.toBe(first?.stamp);
    expect(second?.stamp).toBe(stampNow(handle.db));
  });

  it('gives no stamp without rows, and nothing while a transaction is open on the connection', async () => {
    const read = rowsOfT();
    expect(read.nowStamped(handle.db, 0)).toEqual({ rows: [], stamp: undefined });
    await sql`insert into t values (1)`.execute(handle.db);
    await handle.db.transaction().execute(async () => {
      expect(read.nowStamped(handle.db, 0)).toBeUndefined();
    });
  });
});

describe('the WAL checkpoint thread (checkpointer.ts)', () => {
  /** The main connection's automatic checkpoint threshold: 0 once the thread has taken over. */
  const autocheckpoint = async (db: DatabaseHandle) =>
    Number(Object.values((await sql`pragma wal_autocheckpoint`.execute(db.db)).rows[0] as object)[0]);

  it('is not offered without checkpointThread (the in-process apps, the CLI)', () => {
    expect(handle.checkpointInBackground).toBeUndefined();
  });

  it('starts only when asked for (the first delivery queued), then takes the checkpoints over', async () => {
    const withThread = openDatabase(
      { kind: 'sqlite', path: join(dir, 'q.db') },
      { lockWaitMs: LOCK_WAIT_MS, checkpointThread: { onError: () => {} } },
    );
    try {
      await migrateToLatest(withThread);
      // Not asked for: the commits checkpoint, as without the thread, however long the server runs.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(await autocheckpoint(withThread)).toBe(AUTOCHECKPOINT_PAGES);
      withThread.checkpointInBackground?.();
      withThread.checkpointInBackground?.(); // once: a second call does nothing
      const deadline = Date.now() + 10_000;
      while ((await autocheckpoint(withThread)) !== 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await autocheckpoint(withThread)).toBe(0);
    } finally {
      await withThread.close();
    }
  });
});
