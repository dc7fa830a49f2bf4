import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from './database.js';
import {
  type AttemptRecord,
  type ClaimedDelivery,
  createDeliveryStore,
  type DeliveryStore,
} from './delivery-store.js';
import { useSqliteStore } from './fixture.js';

// The worker's side of the store on SQLite, where claims and plain records take their own
// statements (json_each) and commit through the relaxed handle.

let dir: string;
let handle: DatabaseHandle;
let store: DeliveryStore;
const connector = { id: 'con_store_test', type: 'dynamic' };
let accountId: number;

useSqliteStore('dlv-store', (fixture) => {
  ({ dir, handle, accountId } = fixture);
  store = createDeliveryStore(handle.db, handle.relaxed);
});

const later = (ms: number) => new Date(Date.now() + ms).toISOString();

async function queue(n: number, alertKey?: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const event = { eventType: 'ALERT' as const, summary: `s${i}`, ...(alertKey ? { alertKey } : {}) };
    ids.push((await store.enqueue(accountId, connector, event, {}, 1_000)).id);
  }
  return ids;
}

function delivered(delivery: ClaimedDelivery, message = 'HTTP 200'): AttemptRecord {
  return {
    delivery,
    attempt: {
      startedAt: new Date().toISOString(),
      durationMs: 3,
      httpStatus: 200,
      outcome: 'delivered',
      message,
    },
    next: { state: 'delivered' },
  };
}

describe('claims on SQLite', () => {
  it('take the oldest due deliveries up to the limit, once, and only the first of an alertKey', async () => {
    const plain = await queue(3);
    const keyed = await queue(2, 'disk-full');
    const first = await store.claim(connector.id, 'a', 4, later(60_000));
    expect(first.map((d) => d.id)).toEqual([...plain, keyed[0]]);
    expect(await store.claim(connector.id, 'b', 10, later(60_000))).toEqual([]);
    const row = await store.get(accountId, plain[0] ?? '');
    expect(row?.state).toBe('sending');
  });
});

describe('records on SQLite', () => {
  it('land for delivered, failed and retrying attempts of one batch, each with its attempt', async () => {
    await queue(3);
    const [a, b, c] = await store.claim(connector.id, 'owner', 3, later(60_000));
    if (!a || !b || !c) throw new Error('three claimed');
    const retryAt = later(10_000);
    await store.record('owner', [
      delivered(a, 'first'),
      {
        delivery: b,
        attempt: {
          startedAt: new Date().toISOString(),
          durationMs: 5,
          outcome: 'failed',
          message: 'HTTP 404 gone',
        },
        next: { state: 'failed' },
      },
      {
        delivery: c,
        attempt: {
          startedAt: new Date().toISOString(),
          durationMs: 7,
          httpStatus: 503,
          outcome: 'retry',
          message: 'HTTP 503',
        },
        next: { state: 'retrying', nextAttemptAt: retryAt },
      },
    ]);
    const [da, db, dc] = await Promise.all([a, b, c].map((d) => store.get(accountId, d.id)));
    expect(da).toMatchObject({
      state: 'delivered',
      attempts: [{ number: 1, outcome: 'delivered', httpStatus: 200, message: 'first', durationMs: 3 }],
    });
    expect(da?.finishedAt).toBeDefined();
    expect(db).toMatchObject({
      state: 'failed',
      attempts: [{ number: 1, outcome: 'failed', message: 'HTTP 404 gone' }],
    });
    expect(db?.attempts[0]?.httpStatus).toBeUndefined();
    expect(dc).toMatchObject({
      state: 'retrying',
      nextAttemptAt: retryAt,
      attempts: [{ number: 1, httpStatus: 503 }],
    });
    expect(dc?.finishedAt).toBeUndefined();
  });

  it('of a delivery whose lease another server took over are dropped: the take-over is what stays', async () => {
    await queue(2);
    const mine = await store.claim(connector.id, 'dead', 2, new Date(Date.now() - 1).toISOString());
    expect(await store.takeOverExpired()).toBe(2);
    const theirs = await store.claim(connector.id, 'alive', 2, later(60_000));
    expect(theirs).toHaveLength(2);
    // The first server comes back and records both: nothing of it is kept.
    await store.record(
      'dead',
      mine.map((d) => delivered(d, 'late')),
    );
    for (const d of mine) {
      const row = await store.get(accountId, d.id);
      expect(row?.state).toBe('sending');
      expect(row?.attempts.map((a) => a.outcome)).toEqual(['interrupted']);
    }
    await store.record(
      'alive',
      theirs.map((d) => delivered(d)),
    );
    for (const d of theirs) {
      const row = await store.get(accountId, d.id);
      expect(row?.state).toBe('delivered');
      expect(row?.attempts.map((a) => [a.number, a.outcome])).toEqual([
        [1, 'interrupted'],
        [2, 'delivered'],
      ]);
    }
  });
});

describe('the relaxed handle', () => {
  const level = async () =>
    (await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db)).rows[0]?.synchronous;

  it('commits at synchronous NORMAL (1) and leaves the connection at FULL (2) for every other write', async () => {
    const relaxed = handle.relaxed;
    if (!relaxed) throw new Error('SQLite has a relaxed handle');
    expect(await level()).toBe(2);
    let inside: number | undefined;
    let queuedMeanwhile: Promise<number | undefined> | undefined;
    await relaxed.transaction().execute(async (trx) => {
      inside = (await sql<{ synchronous: number }>`pragma synchronous`.execute(trx)).rows[0]?.synchronous;
      // Waits for the connection, and runs once the relaxed transaction has ended.
      queuedMeanwhile = level();
    });
    expect(inside).toBe(1);
    expect(await queuedMeanwhile).toBe(2);
    await sql`select 1`.execute(relaxed);
    expect(await level()).toBe(2);
  });

  it('is the handle itself when the database is set to NORMAL already', async () => {
    const other = openDatabase({ kind: 'sqlite', path: join(dir, 'n.db') }, { synchronous: 'NORMAL' });
    expect(other.relaxed).toBe(other.db);
    await other.close();
  });
});
