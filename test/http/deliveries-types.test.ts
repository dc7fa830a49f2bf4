import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Params } from '../../src/connectors/checks/types.js';
import { CREDENTIALS, type DeliveryFake, loadFixtures } from '../../src/connectors/fixture.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import type { Delivery } from '../../src/store/delivery-store.js';
import { QUICK_RETRIES, waitForDelivery } from '../delivery-helpers.js';
import { answerAs } from '../fake-targets.js';
import { buildTestApp, endpointsAt, json, type TestContext } from '../helpers.js';

/**
 * Every type that declares deliver, through the API and the engine (queue, worker, tickets kept per
 * alertKey), against the fake of its target from its fixture: ALERT, ACCEPT and RESOLVE of one alert
 * queued at once are sent in order and act on one ticket; refused credentials fail; and no secret
 * param of either connector appears in any delivery response, attempt or log line (the leak table's
 * delivery row per type).
 */

const fixtures = await loadFixtures();
const deliverable = connectorTypes.flatMap((type) => {
  const delivery = fixtures.get(type.id)?.delivery;
  return type.deliver && delivery ? [{ type, delivery }] : [];
});

let server: Server;
let origin = '';
const current = new Map<string, DeliveryFake>();
let t: TestContext;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      const [, id = '', ...rest] = path.split('/');
      answerAs(
        current.get(id)?.answer,
        req,
        res,
        `/${rest.join('/')}`,
        Buffer.concat(chunks).toString('utf8'),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  origin = `http://127.0.0.1:${address.port}`;
  t = await buildTestApp({
    checks: {
      allowedTargets: ['127.0.0.1'],
      timeoutMs: 3_000,
      endpoints: endpointsAt((type) => `${origin}/${type.id}`),
    },
    deliveries: { allowedTargets: ['127.0.0.1'], schedule: QUICK_RETRIES, pollMs: 50, timeoutMs: 3_000 },
  });
});

afterAll(async () => {
  await t?.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function secretsOf(typeId: string, params: Params): string[] {
  const type = connectorTypes.find((x) => x.id === typeId);
  return [...(type?.secretParams ?? [])].flatMap((name) => (params[name] ? [params[name]] : []));
}

it('at least one type delivers', () => {
  expect(deliverable.length).toBeGreaterThan(0);
});

describe.each(deliverable.map((d) => [d.type.id, d] as const))(
  '%s through the engine',
  (id, { type, delivery }) => {
    it('delivers ALERT, ACCEPT and RESOLVE queued at once, in order, and leaks no credential', async () => {
      const fake = delivery.fake();
      current.set(id, fake);
      const good = delivery.params(`${origin}/${id}`, CREDENTIALS.good);
      const bad = delivery.params(`${origin}/${id}`, CREDENTIALS.bad);
      const connectorOf = async (name: string, params: Params) => {
        const response = await t.call('POST', '/api/connectors', { body: { name, type: id, params } });
        expect(response.statusCode, response.body).toBe(201);
        return json<Connector>(response);
      };
      const c = await connectorOf(`${id} good`, good);
      const responses: string[] = [];
      const ids: string[] = [];
      for (const eventType of ['ALERT', 'ACCEPT', 'RESOLVE']) {
        const response = await t.call('POST', `/api/connectors/${c.id}/deliveries`, {
          body: {
            event: {
              eventType,
              summary: `CPU on db-1 is at 97 % (${eventType})`,
              details: 'load above 20',
              alertKey: `db-1-cpu-${id}`,
              priority: 'HIGH',
            },
            params: delivery.options,
          },
        });
        expect(response.statusCode, response.body).toBe(202);
        responses.push(response.body);
        ids.push(json<Delivery>(response).id);
      }
      const done: Delivery[] = [];
      for (const deliveryId of ids) done.push(await waitForDelivery(t, deliveryId));
      for (const d of done) expect(d.state, JSON.stringify(d.attempts)).toBe('delivered');
      // In order: each started after the one before it was recorded.
      for (let i = 1; i < done.length; i++) {
        expect(Date.parse(done[i]?.attempts[0]?.startedAt ?? '')).toBeGreaterThanOrEqual(
          Date.parse(done[i - 1]?.finishedAt ?? ''),
        );
      }
      if (type.deliver?.kind === 'ticket') {
        const opened = fake.actions[0];
        expect(opened?.action).toBe('open');
        const ticket = opened && 'ticket' in opened ? opened.ticket : '';
        expect(fake.actions.filter((a) => a.action === 'open')).toHaveLength(1);
        expect(fake.actions.at(-1)).toEqual({ action: 'close', ticket });
      } else {
        expect(fake.actions.length).toBeGreaterThanOrEqual(3);
      }

      const refused = await connectorOf(`${id} bad`, bad);
      const failed = await t.call('POST', `/api/connectors/${refused.id}/deliveries`, {
        body: { event: { eventType: 'ALERT', summary: 'refused', alertKey: 'k' }, params: delivery.options },
      });
      expect(failed.statusCode).toBe(202);
      const f = await waitForDelivery(t, json<Delivery>(failed).id);
      expect(f.state).toBe('failed');

      const listed = await t.call('GET', `/api/deliveries?connector=${c.id}`, { key: t.keys.read });
      const seen = [
        ...responses,
        failed.body,
        listed.body,
        JSON.stringify(done),
        JSON.stringify(f),
        ...t.logs,
      ].join('\n');
      for (const secret of [...secretsOf(id, good), ...secretsOf(id, bad)]) {
        expect(seen.includes(secret), `${id}: a secret param appears in a response or log`).toBe(false);
      }
    });
  },
);
