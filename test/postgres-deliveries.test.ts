/**
 * Two real `plugboard serve` processes on one PostgreSQL database share the delivery queue (needs
 * `npm run build` first): 1,000 events accepted on both, spread over four connectors, are each
 * delivered exactly once (claims with a lease, FOR UPDATE SKIP LOCKED).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, inject, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import type { Delivery } from '../src/store/delivery-store.js';
import { postgresTestUrl } from './backend.js';
import { Target } from './delivery-helpers.js';
import { Sandbox, type ServerProcess, waitFor } from './process-helpers.js';

const API_KEY = 'pg-deliveries-test-key-0123456789ab';
const ENV = {
  PLUGBOARD_API_KEY: API_KEY,
  PLUGBOARD_MASTER_KEY: randomBytes(32).toString('base64'),
  DATABASE_POOL_SIZE: '4',
  PLUGBOARD_ALLOWED_TARGETS: '127.0.0.1',
};
const EVENTS = 1_000;

const postgresAvailable = (() => {
  const info = inject('postgres');
  return info !== undefined && 'url' in info;
})();

let admin: pg.Pool | undefined;
const databases: string[] = [];
let box: Sandbox | undefined;

afterAll(async () => {
  await box?.cleanup();
  for (const name of databases) await admin?.query(`drop database if exists ${name} with (force)`);
  await admin?.end();
});

async function call(server: ServerProcess, method: string, path: string, body?: unknown) {
  return server.call(method, path, { key: API_KEY, timeoutMs: 20_000, ...(body ? { body } : {}) });
}

it.skipIf(!postgresAvailable)(
  'two servers deliver 1,000 events, each exactly once',
  async () => {
    admin = new pg.Pool({ connectionString: postgresTestUrl(), max: 2 });
    const name = `plugboard_dlv_${process.pid}_${randomBytes(4).toString('hex')}`;
    await admin.query(`create database ${name}`);
    databases.push(name);
    const url = new URL(postgresTestUrl());
    url.pathname = `/${name}`;
    box = new Sandbox({ databaseUrl: url.toString() });
    const target = await new Target().start();
    try {
      const a = await box.startServer(ENV);
      const b = await box.startServer(ENV);
      const connectors: Connector[] = [];
      for (let i = 0; i < 4; i++) {
        const created = await call(i % 2 ? b : a, 'POST', '/api/connectors', {
          name: `hook ${i}`,
          type: 'dynamic',
          params: { url: `${target.url}/hook${i}` },
        });
        expect(created.status).toBe(201);
        connectors.push(created.body as Connector);
      }
      const ids: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < EVENTS) {
            const i = next++;
            const connector = connectors[i % connectors.length] as Connector;
            const answer = await call(i % 2 ? b : a, 'POST', `/api/connectors/${connector.id}/deliveries`, {
              event: { eventType: 'ALERT', summary: `event ${i}` },
            });
            expect(answer.status).toBe(202);
            ids.push((answer.body as Delivery).id);
          }
        }),
      );
      await waitFor(
        'every event to reach the target',
        () =>
          new Set(target.seen.map((s) => s.headers['idempotency-key'])).size >= EVENTS ? true : undefined,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      // A moment for a duplicate, if there were one, to arrive.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const times = new Map<string, number>();
      for (const seen of target.seen) {
        const id = String(seen.headers['idempotency-key']);
        times.set(id, (times.get(id) ?? 0) + 1);
      }
      expect(times.size).toBe(EVENTS);
      expect([...times.values()].filter((n) => n !== 1)).toEqual([]);
      expect(new Set(ids)).toEqual(new Set(times.keys()));
      const delivered = await waitFor(
        'every delivery to be recorded delivered',
        async () => {
          let count = 0;
          for (let start = 0; ; start += 100) {
            const page = (
              await call(a, 'GET', `/api/deliveries?state=delivered&start-index=${start}&max-results=100`)
            ).body as Delivery[];
            count += page.length;
            if (page.length < 100) break;
          }
          return count === EVENTS ? count : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      expect(delivered).toBe(EVENTS);
    } finally {
      await target.close();
    }
  },
  180_000,
);
