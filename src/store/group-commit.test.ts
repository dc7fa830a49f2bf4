import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { noteArrival } from './arrivals.js';
import { type DatabaseHandle, openDatabase } from './database.js';
import { isLockBusy } from './errors.js';
import { MAX_GROUP } from './group-commit.js';
import { endOfTransaction } from './sqlite-database.js';

/** A short lock wait, so that waiting for another process's lock takes a test a second or two. */
const LOCK_WAIT_MS = 600;

let dir: string;
let handle: DatabaseHandle;
/** Another connection to the same file: what another process would see. */
let other: SqliteDatabase.Database;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plugboard-group-'));
  const path = join(dir, 'p.db');
  handle = openDatabase({ kind: 'sqlite', path }, { lockWaitMs: LOCK_WAIT_MS });
  await sql`create table t (x integer unique)`.execute(handle.db);
  other = new SqliteDatabase(path, { timeout: 0 });
});
afterEach(async () => {
  if (other.inTransaction) other.exec('rollback');
  other.close();
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

const transact = () => {
  if (!handle.transact) throw new Error('a SQLite handle groups its writes');
  return handle.transact;
};
const rows = () => (other.prepare('select x from t order by x').all() as { x: number }[]).map((r) => r.x);

describe('group commit (SQLite)', () => {
  it('commits concurrent writes in one transaction, answering each after the commit', async () => {
    const seen: number[] = [];
    const writes = [1, 2, 3, 4].map((x) =>
      transact()(async (trx) => {
        await sql`insert into t values (${x})`.execute(trx);
        // The writes before it in the group are visible to it: one transaction.
        const { rows: count } = await sql<{ n: number }>`select count(*) as n from t`.execute(trx);
        seen.push(count[0]?.n ?? -1);
        return x;
      }),
    );
    const answers = await Promise.all(
      writes.map((write) =>
        write.then((x) => {
          // Answered only once committed: another connection sees every write of the group.
          expect(rows()).toEqual([1, 2, 3, 4]);
          return x;
        }),
      ),
    );
    expect(answers).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('keeps a group open while turns of the event loop bring other requests, for the writes they bring', async () => {
    /** What another connection saw of `t` when each write ran: its group's writes are not committed yet. */
    const committedBefore = new Map<number, number[]>();
    const write = (x: number) =>
      transact()(async (trx) => {
        committedBefore.set(x, rows());
        await sql`insert into t values (${x})`.execute(trx);
        return x;
      });
    const inTurns = (...turns: (() => void)[]) => {
      const [turn, ...rest] = turns;
      if (turn)
        setImmediate(() => {
          turn();
          inTurns(...rest);
        });
    };

    // A turn that brings neither writes nor requests starts the group: the next write has a group of its own.
    const alone = write(1);
    let next: Promise<number> | undefined;
    inTurns(
      () => {},
      () => {
        next = write(2);
      },
    );
    await alone;
    await new Promise((resolve) => setTimeout(resolve, 10));
    await next;
    expect(committedBefore.get(2)).toEqual([1]);

    // One request a turn (a trickle of writes, each its own request's): not busy, the group starts.
    const lone = write(3);
    noteArrival();
    let trickle: Promise<number> | undefined;
    inTurns(noteArrival, () => {
      trickle = write(4);
    });
    await lone;
    await new Promise((resolve) => setTimeout(resolve, 10));
    await trickle;
    expect(committedBefore.get(4)).toEqual([1, 2, 3]);

    // Requests keep coming, several a turn (the server is busy): the group stays open for the write
    // a later turn brings.
    const twice = () => {
      noteArrival();
      noteArrival();
    };
    const first = write(5);
    twice();
    let second: Promise<number> | undefined;
    inTurns(twice, () => {
      second = write(6);
    });
    await first;
    await new Promise((resolve) => setTimeout(resolve, 10));
    await second;
    expect(committedBefore.get(6)).toEqual([1, 2, 3, 4]);
    expect(rows()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('rolls back a failed write alone: the others of its group commit', async () => {
    await transact()(async (trx) => sql`insert into t values (2)`.execute(trx));
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map((x) => transact()(async (trx) => sql`insert into t values (${x})`.execute(trx))),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    const thrown = transact()(async (trx) => {
      await sql`insert into t values (7)`.execute(trx);
      throw new Error('refused by the caller');
    });
    const kept = transact()(async (trx) => sql`insert into t values (8)`.execute(trx));
    await expect(thrown).rejects.toThrow('refused by the caller');
    await kept;
    expect(rows()).toEqual([1, 2, 3, 8]);
  });

  it('undoes a write that failed before changing a row without touching the others of its group', async () => {
    await transact()(async (trx) => sql`insert into t values (2)`.execute(trx));
    const runs = new Map<number, number>();
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map((x) =>
        transact()(async (trx) => {
          runs.set(x, (runs.get(x) ?? 0) + 1);
          return sql`insert into t values (${x})`.execute(trx);
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // The UNIQUE conflict changed nothing (SQLite undid its statement): no write ran twice.
    expect([...runs.values()]).toEqual([1, 1, 1]);
    expect(rows()).toEqual([1, 2, 3]);
  });

  it('runs the others of a group again, each in a savepoint, when a write failed after changing rows', async () => {
    const runs = new Map<number, number>();
    const write = (x: number, fail = false) =>
      transact()(async (trx) => {
        runs.set(x, (runs.get(x) ?? 0) + 1);
        await sql`insert into t values (${x})`.execute(trx);
        if (fail) throw new Error(`refused ${x}`);
        return x;
      });
    const outcomes = await Promise.allSettled([write(1), write(2, true), write(3), write(4)]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch('refused 2');
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : undefined))).toEqual([
      1,
      undefined,
      3,
      4,
    ]);
    // The write before the failed one ran twice, the failed one once, those after it once (after the rollback).
    expect(Object.fromEntries(runs)).toEqual({ 1: 2, 2: 1, 3: 1, 4: 1 });
    expect(rows()).toEqual([1, 3, 4]);
    // Run again in savepoints, a write that fails after its change too (7) is undone alone.
    runs.clear();
    const again = await Promise.allSettled([write(5), write(6, true), write(7, true), write(8)]);
    expect(again.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(Object.fromEntries(runs)).toEqual({ 5: 2, 6: 1, 7: 1, 8: 1 });
    expect(rows()).toEqual([1, 3, 4, 5, 8]);
  });

  it('keeps a group’s writes from other statements of the process until they are committed', async () => {
    let reads: number[] = [];
    let read: Promise<void> | undefined;
    await transact()(async (trx) => {
      await sql`insert into t values (5)`.execute(trx);
      // A read of the same process queued meanwhile waits for the commit: no dirty read.
      read = sql<{ x: number }>`select x from t`.execute(handle.db).then((r) => {
        reads = r.rows.map((row) => row.x);
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(reads).toEqual([]);
    });
    await read;
    expect(reads).toEqual([5]);
  });

  it('waits for the deliveries thread’s transaction to end, woken by its notice, and begins anyway a few milliseconds later when none comes', async () => {
    // The flags shared with the deliveries thread (DatabaseOptions.writeIntent); `other` plays the thread.
    const intent = new Int32Array(new SharedArrayBuffer(8));
    const own = openDatabase(
      { kind: 'sqlite', path: join(dir, 'p.db') },
      { lockWaitMs: LOCK_WAIT_MS, writeIntent: intent },
    );
    const write = (x: number) => {
      if (!own.transact) throw new Error('a SQLite handle groups its writes');
      return own.transact(async (trx) => {
        await sql`insert into t values (${x})`.execute(trx);
      });
    };
    try {
      other.exec('begin immediate');
      Atomics.store(intent, 1, 1);
      let done = false;
      const first = write(1).then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 2));
      expect(done).toBe(false);
      other.exec('commit');
      endOfTransaction(intent);
      await first;
      expect(rows()).toEqual([1]);
      // Flagged and never cleared (a thread that ended without saying so): it waits, then begins.
      Atomics.store(intent, 1, 1);
      const began = performance.now();
      await write(2);
      expect(performance.now() - began).toBeGreaterThanOrEqual(4);
      expect(rows()).toEqual([1, 2]);
    } finally {
      await own.close();
    }
  });

  it(`holds at most ${MAX_GROUP} writes in one group; the rest commit in the next`, async () => {
    const xs = Array.from({ length: MAX_GROUP + 5 }, (_, i) => i + 1);
    /** How many rows another connection saw committed when each write ran. */
    const committedBefore: number[] = [];
    await Promise.all(
      xs.map((x) =>
        transact()(async (trx) => {
          committedBefore.push(rows().length);
          return sql`insert into t values (${x})`.execute(trx);
        }),
      ),
    );
    // The first MAX_GROUP ran in one transaction, before anything was committed; the rest after it.
    // (Answers are not the measure: the second group may commit while the first waits for its
    // flush, wal-sync.ts.)
    expect(committedBefore).toEqual(xs.map((_, i) => (i < MAX_GROUP ? 0 : MAX_GROUP)));
    expect(rows()).toEqual(xs);
  });

  it('gives each write its own lock wait, counted from its arrival: a write queued behind a group that gave up waits only the rest of its time', async () => {
    other.exec('begin immediate');
    // Let go 100 ms after the first write's wait is up, 100 ms before the second's is.
    const heldUntil = Date.now() + LOCK_WAIT_MS + 100;
    const release = setTimeout(() => other.exec('rollback'), heldUntil - Date.now());
    try {
      const started = Date.now();
      const first = transact()(async (trx) => sql`insert into t values (1)`.execute(trx)).then(
        () => ({ ok: true, at: Date.now() - started }),
        (error: unknown) => ({ ok: false, busy: isLockBusy(error), at: Date.now() - started }),
      );
      // Arrives while the first group waits for the lock: it queues behind that group.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const secondStarted = Date.now();
      const second = transact()(async (trx) => sql`insert into t values (2)`.execute(trx)).then(
        () => ({ ok: true, at: Date.now() - secondStarted }),
        () => ({ ok: false, at: Date.now() - secondStarted }),
      );
      const a = await first;
      // The first gives up after its lock wait: SQLITE_BUSY, a 503.
      expect(a).toMatchObject({ ok: false, busy: true });
      expect(a.at).toBeGreaterThanOrEqual(LOCK_WAIT_MS - 10);
      expect(a.at).toBeLessThan(LOCK_WAIT_MS + 250);
      // The second, in the queue meanwhile, is not failed with the first's group: it waits on,
      // within its own bound, and commits once the lock is let go.
      const b = await second;
      expect(b.ok).toBe(true);
      expect(b.at).toBeLessThan(LOCK_WAIT_MS + 50);
      expect(rows()).toEqual([2]);
    } finally {
      clearTimeout(release);
      if (other.inTransaction) other.exec('rollback');
    }
  });

  it('answers SQLITE_BUSY to a write queued behind a failed group once its own wait is over, not a whole lock wait later', async () => {
    other.exec('begin immediate');
    try {
      const started = Date.now();
      const settle = (x: number) =>
        transact()(async (trx) => sql`insert into t values (${x})`.execute(trx)).then(
          () => ({ busy: false, at: Date.now() - started }),
          (error: unknown) => ({ busy: isLockBusy(error), at: Date.now() - started }),
        );
      const first = settle(1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = settle(2);
      const [a, b] = await Promise.all([first, second]);
      expect(a.busy).toBe(true);
      expect(b.busy).toBe(true);
      // The second arrived 300 ms after the first: it gives up ~300 ms after it, not ~600.
      expect(b.at - a.at).toBeGreaterThanOrEqual(250);
      expect(b.at - a.at).toBeLessThan(450);
      expect(b.at).toBeLessThan(300 + LOCK_WAIT_MS + 150);
    } finally {
      other.exec('rollback');
    }
    expect(rows()).toEqual([]);
  });
});
