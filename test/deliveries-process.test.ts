/**
 * Deliveries across a SIGKILL of the real `plugboard serve` (needs `npm run build` first): every
 * accepted delivery reaches `delivered` after a restart. A delivery killed between accept and send
 * is sent once; one killed between send and record (its lease held by the dead process) is taken
 * over when the lease ends and sent again: the one documented duplicate, marked by an
 * `interrupted` attempt.
 */

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import type { Delivery } from '../src/store/delivery-store.js';
import { Target } from './delivery-helpers.js';
import { typeOf } from './helpers.js';
import { type ServerProcess, sandboxPerTest, waitFor } from './process-helpers.js';

const sandbox = sandboxPerTest();
const API_KEY = 'deliveries-process-key-0123456789ab';
const ENV = {
  PLUGBOARD_API_KEY: API_KEY,
  PLUGBOARD_ALLOWED_TARGETS: '127.0.0.1',
  // One at a time, and a short deadline: the lease (deadline + 5 s) ends soon after a kill.
  PLUGBOARD_DELIVERY_CONCURRENCY: '1',
  PLUGBOARD_DELIVERY_TIMEOUT: '2',
};

const dynamicDelivers = typeOf('dynamic').deliver !== undefined;

async function call(server: ServerProcess, method: string, path: string, body?: unknown) {
  return server.call(method, path, { key: API_KEY, timeoutMs: 10_000, ...(body ? { body } : {}) });
}

describe('deliveries and kill -9', () => {
  it.skipIf(!dynamicDelivers)(
    'every accepted delivery is delivered after a restart; only the one in flight is sent twice',
    async () => {
      const target = await new Target().start();
      try {
        // Slow at first (800 ms an answer): while one is in flight the rest wait in the queue.
        let slow = true;
        target.answers.set('hook', (_req, res) => {
          setTimeout(
            () => {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end('{}');
            },
            slow ? 800 : 0,
          );
        });
        const box = sandbox();
        let server = await box.startServer(ENV);
        const created = await call(server, 'POST', '/api/connectors', {
          name: 'hook',
          type: 'dynamic',
          params: { url: `${target.url}/hook` },
        });
        expect(created.status).toBe(201);
        const connector = created.body as Connector;
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) {
          const answer = await call(server, 'POST', `/api/connectors/${connector.id}/deliveries`, {
            event: { eventType: 'ALERT', summary: `event ${i}` },
          });
          expect(answer.status).toBe(202);
          ids.push((answer.body as Delivery).id);
        }
        // One is at the target (sent, not recorded), the others are accepted and not yet sent.
        await waitFor('the first delivery to reach the target', () => target.seen.length > 0 || undefined, {
          timeoutMs: 5_000,
          intervalMs: 5,
        });
        await server.kill();
        const sentBeforeKill = target.seen.length;
        expect(sentBeforeKill).toBeLessThan(ids.length);

        slow = false;
        server = await box.startServer(ENV);
        const states = await waitFor(
          'every delivery to be delivered',
          async () => {
            const all = await Promise.all(
              ids.map(async (id) => (await call(server, 'GET', `/api/deliveries/${id}`)).body as Delivery),
            );
            return all.every((d) => d.state === 'delivered') ? all : undefined;
          },
          { timeoutMs: 20_000, intervalMs: 100 },
        );
        const sent = new Map<string, number>();
        for (const seen of target.seen) {
          const id = String(seen.headers['idempotency-key'] ?? '');
          sent.set(id, (sent.get(id) ?? 0) + 1);
        }
        for (const delivery of states) {
          const times = sent.get(delivery.id) ?? 0;
          const interrupted = delivery.attempts.some((a) => a.outcome === 'interrupted');
          // Sent at least once; twice only when the dead server held it (an interrupted attempt):
          // it may have been sent (the one in flight) or only claimed (waiting for its turn).
          expect(times, delivery.id).toBeGreaterThanOrEqual(1);
          expect(times, delivery.id).toBeLessThanOrEqual(interrupted ? 2 : 1);
        }
        const twice = [...sent.values()].filter((n) => n === 2).length;
        expect(twice).toBeLessThanOrEqual(sentBeforeKill);
      } finally {
        await target.close();
      }
    },
    60_000,
  );

  it.skipIf(!dynamicDelivers)(
    'a graceful stop releases what is in flight, and the next start sends it',
    async () => {
      const target = await new Target().start();
      try {
        let hold = true;
        target.answers.set('held', (_req, res) => {
          if (hold) return; // never answers while held
          res.writeHead(200);
          res.end('{}');
        });
        const box = sandbox();
        let server = await box.startServer({ ...ENV, PLUGBOARD_DELIVERY_TIMEOUT: '30' });
        const connector = (
          await call(server, 'POST', '/api/connectors', {
            name: 'held',
            type: 'dynamic',
            params: { url: `${target.url}/held` },
          })
        ).body as Connector;
        const answer = await call(server, 'POST', `/api/connectors/${connector.id}/deliveries`, {
          event: { eventType: 'ALERT', summary: 'held' },
        });
        const id = (answer.body as Delivery).id;
        await waitFor('the delivery to reach the target', () => target.seen.length > 0 || undefined, {
          timeoutMs: 5_000,
          intervalMs: 5,
        });
        server.signal('SIGTERM');
        expect((await server.waitForExit(15_000)).code).toBe(0);
        hold = false;
        server = await box.startServer(ENV);
        // Released at shutdown: sent again at once, not after a 35 s lease.
        const delivered = await waitFor(
          'the released delivery to be delivered',
          async () => {
            const d = (await call(server, 'GET', `/api/deliveries/${id}`)).body as Delivery;
            return d.state === 'delivered' ? d : undefined;
          },
          { timeoutMs: 10_000, intervalMs: 100 },
        );
        expect(delivered.attempts.map((a) => a.outcome)).toEqual(['delivered']);
      } finally {
        await target.close();
      }
    },
    60_000,
  );
  it.skipIf(!dynamicDelivers)(
    'a stop that comes while the deliveries thread boots leaves nothing claimed: the next start sends at once',
    async () => {
      const target = await new Target().start();
      try {
        const box = sandbox();
        // A lease of 4 × 30 s + 5 s: a delivery left claimed would not be sent again within this test.
        let server = await box.startServer({ ...ENV, PLUGBOARD_DELIVERY_TIMEOUT: '30' });
        const connector = (
          await call(server, 'POST', '/api/connectors', {
            name: 'early stop',
            type: 'dynamic',
            params: { url: `${target.url}/early-stop` },
          })
        ).body as Connector;
        // The first accept makes the thread (not before: nothing was pending); the stop follows
        // at once, while it boots (~150 ms and more), and waits in its inbox.
        const answer = await call(server, 'POST', `/api/connectors/${connector.id}/deliveries`, {
          event: { eventType: 'ALERT', summary: 'stopped while booting' },
        });
        const id = (answer.body as Delivery).id;
        server.signal('SIGTERM');
        expect((await server.waitForExit(15_000)).code).toBe(0);
        server = await box.startServer(ENV);
        const delivered = await waitFor(
          'the delivery to be delivered after the restart',
          async () => {
            const d = (await call(server, 'GET', `/api/deliveries/${id}`)).body as Delivery;
            return d.state === 'delivered' ? d : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 100 },
        );
        expect(delivered.attempts.map((a) => a.outcome)).toEqual(['delivered']);
        expect(target.seen.filter((s) => s.path === '/early-stop')).toHaveLength(1);
        server.signal('SIGTERM');
        expect((await server.waitForExit(15_000)).code).toBe(0);
      } finally {
        await target.close();
      }
    },
    60_000,
  );
  it.skipIf(!dynamicDelivers)(
    'a start that cannot listen or whose key check fails, with deliveries pending, sends none and exits with its message',
    async () => {
      const target = await new Target().start();
      const blocker = createServer();
      try {
        const box = sandbox();
        const server = await box.startServer(ENV);
        const connector = (
          await call(server, 'POST', '/api/connectors', {
            name: 'pending',
            type: 'dynamic',
            // A secret, sealed with the master key: a start with another key fails its checks.
            params: { url: `${target.url}/pending`, authorization: 'Bearer pending-0123456789' },
          })
        ).body as Connector;
        server.signal('SIGTERM');
        expect((await server.waitForExit(15_000)).code).toBe(0);
        // Queued while no server runs (the rows an accept writes): the next start finds them
        // pending and starts its deliveries thread before it listens.
        const sqlite = new SqliteDatabase(box.dbPath);
        const { account_id: accountId } = sqlite
          .prepare('select account_id from connectors where id = ?')
          .get(connector.id) as { account_id: number };
        const now = new Date().toISOString();
        const insert = sqlite.prepare(`insert into deliveries
          (id, account_id, connector_id, connector_type, event, options, alert_key, state, attempt_count,
           next_attempt_at, created_at, updated_at)
          values (?, ?, ?, 'dynamic', ?, '{}', null, 'queued', 0, ?, ?, ?)`);
        for (let i = 0; i < 20; i++)
          insert.run(
            `dlv_pending${String(i).padStart(13, '0')}`,
            accountId,
            connector.id,
            JSON.stringify({ eventType: 'ALERT', summary: `p${i}` }),
            now,
            now,
            now,
          );
        sqlite.close();
        await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
        const { port } = blocker.address() as AddressInfo;
        // Several times: whether the thread had begun or not when listening failed varied.
        for (let i = 0; i < 5; i++) {
          const failed = await box.run(['serve'], { ...ENV, PORT: String(port) }, 20_000);
          expect(failed.code, failed.stderr).toBe(1);
          expect(failed.stderr).toMatch(new RegExp(`PORT ${port} .*already in use`));
        }
        // Its deliveries thread begins before the database's checks (EarlyThread): a master key
        // that does not open the stored secrets ends it, and the start, with its message.
        const otherKey = randomBytes(32).toString('base64');
        for (let i = 0; i < 3; i++) {
          const failed = await box.run(['serve'], { ...ENV, PLUGBOARD_MASTER_KEY: otherKey }, 20_000);
          expect(failed.code, failed.stderr).toBe(1);
          expect(failed.stderr).toMatch(/master key .* does not hold/);
        }
        expect(target.seen).toEqual([]);
        const check = new SqliteDatabase(box.dbPath, { readonly: true });
        expect(
          check
            .prepare("select count(*) as n from deliveries where state = 'queued' and attempt_count = 0")
            .get(),
        ).toEqual({ n: 20 });
        check.close();
      } finally {
        blocker.close();
        await target.close();
      }
    },
    90_000,
  );
  it.skipIf(!dynamicDelivers)(
    'a server that has nothing to send still prunes the deliveries past the retention',
    async () => {
      const target = await new Target().start();
      try {
        const box = sandbox();
        let server = await box.startServer(ENV);
        const connector = (
          await call(server, 'POST', '/api/connectors', {
            name: 'pruned',
            type: 'dynamic',
            params: { url: `${target.url}/pruned` },
          })
        ).body as Connector;
        const answer = await call(server, 'POST', `/api/connectors/${connector.id}/deliveries`, {
          event: { eventType: 'ALERT', summary: 'old news' },
        });
        const id = (answer.body as Delivery).id;
        await waitFor(
          'the delivery to be delivered',
          async () =>
            ((await call(server, 'GET', `/api/deliveries/${id}`)).body as Delivery).state === 'delivered' ||
            undefined,
          { timeoutMs: 10_000, intervalMs: 50 },
        );
        server.signal('SIGTERM');
        expect((await server.waitForExit(15_000)).code).toBe(0);
        // Finished ten days ago; the next server has no delivery to send, only this one to prune.
        const sqlite = new SqliteDatabase(box.dbPath);
        sqlite
          .prepare('update deliveries set finished_at = ? where id = ?')
          .run(new Date(Date.now() - 10 * 86_400_000).toISOString(), id);
        sqlite.close();
        server = await box.startServer({ ...ENV, PLUGBOARD_DELIVERY_RETENTION_DAYS: '1' });
        await waitFor(
          'the delivery past the retention to be pruned',
          async () => (await call(server, 'GET', `/api/deliveries/${id}`)).status === 404 || undefined,
          { timeoutMs: 10_000, intervalMs: 100 },
        );
      } finally {
        await target.close();
      }
    },
    60_000,
  );
});
