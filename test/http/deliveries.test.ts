import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import type { Delivery } from '../../src/store/delivery-store.js';
import { onlyTestWebhook, QUICK_RETRIES, Target, waitForDelivery } from '../delivery-helpers.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validBody } from '../helpers.js';

// Deliveries through the API, end to end: queued with 202, sent by the app's worker to a local
// target, every attempt recorded. The dynamic type posts through the test webhook definition
// (test/delivery-helpers.ts) until it declares its own delivery.

const SECRET = 'Bearer s3cr3t-webhook-credential';

let target: Target;
let t: TestContext;

beforeAll(async () => {
  target = await new Target().start();
  t = await buildTestApp({
    deliveries: {
      deliveryOf: onlyTestWebhook,
      allowedTargets: ['127.0.0.1'],
      schedule: QUICK_RETRIES,
      timeoutMs: 500,
      pollMs: 50,
      queueCap: 20,
    },
  });
});
afterAll(async () => {
  await t.close();
  await target.close();
});

async function connector(path: string, name = path, key = t.keys.write): Promise<Connector> {
  const response = await t.call('POST', '/api/connectors', {
    key,
    body: { name, type: 'dynamic', params: { url: `${target.url}/${path}`, authorization: SECRET } },
  });
  expect(response.statusCode, response.body).toBe(201);
  return json<Connector>(response);
}

const event = (eventType = 'ALERT', alertKey?: string) => ({
  eventType,
  summary: 'CPU on db-1 is at 97 %',
  details: 'load above 20 for 10 minutes',
  ...(alertKey ? { alertKey } : {}),
  priority: 'HIGH',
  links: [{ href: 'https://grafana.example.com/d/abc', text: 'Dashboard' }],
});

async function deliver(id: string, body: unknown = { event: event() }, key = t.keys.write) {
  return t.call('POST', `/api/connectors/${id}/deliveries`, { key, body });
}

async function accepted(id: string, body: unknown = { event: event() }): Promise<Delivery> {
  const response = await deliver(id, body);
  expect(response.statusCode, response.body).toBe(202);
  return json<Delivery>(response);
}

describe('a delivery through the API', () => {
  it('is queued with 202, sent once to the target with its credential, and recorded', async () => {
    const c = await connector('ok');
    const queued = await accepted(c.id, {
      event: event('ALERT', 'db-1-cpu'),
      params: { tag: 'ops', count: 2 },
    });
    expect(queued).toMatchObject({
      connectorId: c.id,
      connectorType: 'dynamic',
      state: 'queued',
      attempts: [],
    });
    expect(queued.id).toMatch(/^dlv_[\w-]{22}$/);
    const done = await waitForDelivery(t, queued.id);
    expect(done.state).toBe('delivered');
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ number: 1, httpStatus: 200, outcome: 'delivered' });
    expect(done.finishedAt).toBeDefined();
    const seen = target.seenAt('ok');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers.authorization).toBe(SECRET);
    expect(seen[0]?.headers['idempotency-key']).toBe(queued.id);
    expect(JSON.parse(seen[0]?.body ?? '{}')).toMatchObject({
      event: { eventType: 'ALERT', alertKey: 'db-1-cpu' },
      options: { tag: 'ops', count: 2 },
    });
  });

  it('is listed newest first, filtered by connector and state, and readable with a read key', async () => {
    const c = await connector('listed');
    const first = await accepted(c.id);
    const second = await accepted(c.id);
    await waitForDelivery(t, second.id);
    await waitForDelivery(t, first.id);
    const list = json<Delivery[]>(
      await t.call('GET', `/api/deliveries?connector=${c.id}&state=delivered`, { key: t.keys.read }),
    );
    expect(list.map((d) => d.id)).toEqual([second.id, first.id]);
    const page = json<Delivery[]>(
      await t.call('GET', `/api/deliveries?connector=${c.id}&start-index=1&max-results=1`),
    );
    expect(page.map((d) => d.id)).toEqual([first.id]);
    const none = json<Delivery[]>(await t.call('GET', `/api/deliveries?connector=${c.id}&state=failed`));
    expect(none).toEqual([]);
    const bad = await t.call('GET', '/api/deliveries?state=lost');
    expect(bad.statusCode).toBe(400);
    expect(json<ErrorResponse>(bad).message).toContain('state must be one of queued');
  });

  it('refuses a read key (403), an unknown option (named, with the allowed ones), a bad event (400)', async () => {
    const c = await connector('refused');
    expect((await deliver(c.id, { event: event() }, t.keys.read)).statusCode).toBe(403);
    const unknown = await deliver(c.id, { event: event(), params: { project: 'OPS' } });
    expect(unknown.statusCode).toBe(400);
    expect(json<ErrorResponse>(unknown).errors).toContainEqual({
      field: '/params/project',
      message: 'unknown key "project" for a delivery through a dynamic connector; allowed keys: tag, count',
    });
    const wrongType = await deliver(c.id, { event: event(), params: { count: 'two' } });
    expect(json<ErrorResponse>(wrongType).errors).toContainEqual({
      field: '/params/count',
      message: 'must be an integer',
    });
    const noSummary = await deliver(c.id, { event: { eventType: 'ALERT' } });
    expect(json<ErrorResponse>(noSummary).errors).toContainEqual({
      field: '/event/summary',
      message: 'is required for an ALERT event',
    });
    const badType = await deliver(c.id, { event: { eventType: 'OPEN', summary: 's' } });
    expect(json<ErrorResponse>(badType).errors).toContainEqual({
      field: '/event/eventType',
      message: 'must be one of ALERT, ACCEPT, RESOLVE, COMMENT',
    });
    const extra = await deliver(c.id, { event: event(), connector: 'x' });
    expect(json<ErrorResponse>(extra).errors?.[0]?.message).toContain('allowed fields: event, params');
    expect(target.seenAt('refused')).toEqual([]);
  });

  it('answers 422 for a type that does not deliver, and 404 for another account', async () => {
    const jira = json<Connector>(
      await t.call('POST', '/api/connectors', { body: validBody(typeOf('jira')) }),
    );
    const refused = await deliver(jira.id);
    expect(refused.statusCode).toBe(422);
    expect(json<ErrorResponse>(refused)).toMatchObject({ code: 'CANNOT_DELIVER' });
    expect(json<ErrorResponse>(refused).message).toContain('type jira does not deliver');
    const c = await connector('tenancy');
    const d = await accepted(c.id);
    expect((await deliver(c.id, { event: event() }, t.keys.otherWrite)).statusCode).toBe(404);
    expect((await t.call('GET', `/api/deliveries/${d.id}`, { key: t.keys.otherRead })).statusCode).toBe(404);
    expect(
      (await t.call('POST', `/api/deliveries/${d.id}/retry`, { key: t.keys.otherWrite })).statusCode,
    ).toBe(404);
    expect((await t.call('DELETE', `/api/deliveries/${d.id}`, { key: t.keys.otherWrite })).statusCode).toBe(
      404,
    );
    const theirs = json<Delivery[]>(await t.call('GET', '/api/deliveries', { key: t.keys.otherRead }));
    expect(theirs.map((x) => x.id)).not.toContain(d.id);
    expect((await t.call('GET', '/api/deliveries/dlv_nothing')).statusCode).toBe(404);
  });

  it("answers 422 with the type's missing() text when the connector lacks what delivery needs", async () => {
    const c = json<Connector>(
      await t.call('POST', '/api/connectors', {
        body: { name: 'no-auth', type: 'dynamic', params: { url: `${target.url}/no-auth` } },
      }),
    );
    const refused = await deliver(c.id);
    expect(refused.statusCode).toBe(422);
    expect(json<ErrorResponse>(refused)).toMatchObject({
      code: 'CANNOT_DELIVER',
      message: 'add the authorization param: the test webhook needs one to deliver',
    });
  });

  it('replays with the same Idempotency-Key and queues nothing more', async () => {
    const c = await connector('idem');
    const headers = { 'idempotency-key': 'k-1' };
    const body = { event: event() };
    const first = await t.call('POST', `/api/connectors/${c.id}/deliveries`, { body, headers });
    const again = await t.call('POST', `/api/connectors/${c.id}/deliveries`, { body, headers });
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(json<Delivery>(again).id).toBe(json<Delivery>(first).id);
    await waitForDelivery(t, json<Delivery>(first).id);
    const all = json<Delivery[]>(await t.call('GET', `/api/deliveries?connector=${c.id}`));
    expect(all).toHaveLength(1);
    const other = await t.call('POST', `/api/connectors/${c.id}/deliveries`, {
      body: { event: event('COMMENT') },
      headers,
    });
    expect(other.statusCode).toBe(422);
  });
});

describe('answers of the target', () => {
  it('401 is a permanent failure saying to check the credentials, without the credential', async () => {
    target.answers.set('unauthorized', (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `bad token ${SECRET}` }));
    });
    const c = await connector('unauthorized');
    const d = await waitForDelivery(t, (await accepted(c.id)).id);
    expect(d.state).toBe('failed');
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]?.httpStatus).toBe(401);
    expect(d.attempts[0]?.message).toContain('check the credentials');
    expect(JSON.stringify(d)).not.toContain('s3cr3t');
  });

  it('404 is a permanent failure', async () => {
    target.answers.set('gone', (_req, res) => {
      res.writeHead(404);
      res.end('no such hook');
    });
    const c = await connector('gone');
    const d = await waitForDelivery(t, (await accepted(c.id)).id);
    expect(d).toMatchObject({ state: 'failed', attempts: [{ httpStatus: 404, outcome: 'failed' }] });
  });

  it('429 with Retry-After waits at least that long, then delivers', async () => {
    let calls = 0;
    target.answers.set('limited', (_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end();
      } else {
        res.writeHead(200);
        res.end('{}');
      }
    });
    const c = await connector('limited');
    const d = await waitForDelivery(t, (await accepted(c.id)).id);
    expect(d.state).toBe('delivered');
    expect(d.attempts.map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    const [first, second] = target.seenAt('limited');
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('503 every time retries on the schedule and ends failed, saying it gave up', async () => {
    target.answers.set('down', (_req, res) => {
      res.writeHead(503);
      res.end('maintenance');
    });
    const c = await connector('down');
    const d = await waitForDelivery(t, (await accepted(c.id)).id);
    expect(d.state).toBe('failed');
    expect(d.attempts.map((a) => a.outcome)).toEqual(['retry', 'retry', 'retry', 'retry']);
    expect(d.attempts.at(-1)?.message).toMatch(/gave up after 4 attempts/);
    expect(target.seenAt('down')).toHaveLength(4);
  });

  it('a slow target and a dropped connection are transient: retried, with what happened', async () => {
    target.answers.set('slow', () => {
      // never answers: the attempt's deadline ends it
    });
    target.answers.set('dropped', (req) => req.socket.destroy());
    const slow = await connector('slow');
    const dropped = await connector('dropped');
    const [s, dr] = await Promise.all([
      waitForDelivery(t, (await accepted(slow.id)).id),
      waitForDelivery(t, (await accepted(dropped.id)).id),
    ]);
    expect(s.state).toBe('failed');
    expect(s.attempts[0]?.outcome).toBe('retry');
    expect(s.attempts[0]?.message).toMatch(/within/);
    expect(s.attempts[0]?.durationMs).toBeLessThan(1_500);
    expect(dr.state).toBe('failed');
    expect(dr.attempts.every((a) => a.outcome === 'retry')).toBe(true);
  });

  it('one broken target does not delay another connector', async () => {
    target.answers.set('stuck', () => {});
    const stuck = await connector('stuck');
    const fine = await connector('fine');
    for (let i = 0; i < 12; i++) await accepted(stuck.id);
    const started = Date.now();
    const d = await waitForDelivery(t, (await accepted(fine.id)).id);
    expect(d.state).toBe('delivered');
    expect(Date.now() - started).toBeLessThan(400);
  });
});

describe("Alertmanager's webhook", () => {
  const notification = (status: 'firing' | 'resolved') => ({
    version: '4',
    groupKey: '{}:{alertname="HighCPU"}',
    truncatedAlerts: 0,
    status,
    receiver: 'plugboard',
    groupLabels: { alertname: 'HighCPU' },
    commonLabels: { alertname: 'HighCPU', severity: 'warning' },
    commonAnnotations: { summary: 'CPU is high' },
    externalURL: 'http://alertmanager.example.com:9093',
    alerts: [
      {
        status,
        labels: { alertname: 'HighCPU', instance: 'db-1' },
        annotations: { description: 'load 20' },
        startsAt: '2026-12-04T10:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.com/graph',
        fingerprint: 'abc',
      },
    ],
  });

  it('becomes one delivery per notification, with options from the query string coerced', async () => {
    const c = await connector('am');
    const response = await t.call('POST', `/api/connectors/${c.id}/alertmanager?tag=ops&count=3`, {
      body: notification('firing'),
    });
    expect(response.statusCode, response.body).toBe(202);
    const d = await waitForDelivery(t, json<Delivery>(response).id);
    expect(d.state).toBe('delivered');
    expect(d.params).toEqual({ tag: 'ops', count: 3 });
    expect(d.event).toMatchObject({
      eventType: 'ALERT',
      summary: '[FIRING:1] CPU is high',
      alertKey: '{}:{alertname="HighCPU"}',
      priority: 'LOW',
      links: [
        { href: 'http://prometheus.example.com/graph', text: 'Source: HighCPU' },
        { href: 'http://alertmanager.example.com:9093', text: 'Alertmanager' },
      ],
    });
    expect(d.event.details).toContain('- [firing] alertname=HighCPU, instance=db-1');
    const resolved = await t.call('POST', `/api/connectors/${c.id}/alertmanager`, {
      body: notification('resolved'),
    });
    expect(json<Delivery>(resolved).event).toMatchObject({
      eventType: 'RESOLVE',
      summary: '[RESOLVED] CPU is high',
    });
  });

  it('refuses a payload that is not version 4 and options that do not fit, saying which', async () => {
    const c = await connector('am-bad');
    const old = await t.call('POST', `/api/connectors/${c.id}/alertmanager`, {
      body: { ...notification('firing'), version: '3' },
    });
    expect(old.statusCode).toBe(400);
    expect(json<ErrorResponse>(old).errors).toContainEqual({
      field: '/version',
      message: 'must be "4": this route takes the webhook payload of Alertmanager 0.16 and later',
    });
    const count = await t.call('POST', `/api/connectors/${c.id}/alertmanager?count=many`, {
      body: notification('firing'),
    });
    expect(json<ErrorResponse>(count).errors).toContainEqual({
      field: '/params/count',
      message: 'must be an integer',
    });
    const unknown = await t.call('POST', `/api/connectors/${c.id}/alertmanager?project=OPS`, {
      body: notification('firing'),
    });
    expect(unknown.statusCode).toBe(400);
    expect(json<ErrorResponse>(unknown).errors?.[0]?.message).toContain('unknown key "project"');
    const readKey = await t.call('POST', `/api/connectors/${c.id}/alertmanager`, {
      key: t.keys.read,
      body: notification('firing'),
    });
    expect(readKey.statusCode).toBe(403);
  });
});

describe('retry, cancel and the queue', () => {
  it('a failed delivery is queued again by retry; a delivered one cannot be', async () => {
    let ok = false;
    target.answers.set('flaky', (_req, res) => {
      res.writeHead(ok ? 200 : 400);
      res.end('{}');
    });
    const c = await connector('flaky');
    const failed = await waitForDelivery(t, (await accepted(c.id)).id);
    expect(failed.state).toBe('failed');
    ok = true;
    const retried = await t.call('POST', `/api/deliveries/${failed.id}/retry`);
    expect(retried.statusCode).toBe(202);
    const d = await waitForDelivery(t, failed.id, (x) => x.state === 'delivered');
    expect(d.attempts.map((a) => a.outcome)).toEqual(['failed', 'delivered']);
    const again = await t.call('POST', `/api/deliveries/${failed.id}/retry`);
    expect(again.statusCode).toBe(409);
    expect(json<ErrorResponse>(again).code).toBe('DELIVERY_STATE');
  });

  it('cancel stops a retrying delivery; deleting the connector cancels its pending ones', async () => {
    // Retry-After keeps each one retrying (not sending) long enough to cancel it.
    target.answers.set('never', (_req, res) => {
      res.writeHead(503, { 'retry-after': '30' });
      res.end();
    });
    const c = await connector('never');
    const d = await accepted(c.id);
    const retrying = await waitForDelivery(t, d.id, (x) => x.state === 'retrying');
    expect(retrying.nextAttemptAt).toBeDefined();
    const cancelled = await t.call('DELETE', `/api/deliveries/${d.id}`);
    expect(cancelled.statusCode).toBe(200);
    expect(json<Delivery>(cancelled).state).toBe('cancelled');
    expect((await t.call('DELETE', `/api/deliveries/${d.id}`)).statusCode).toBe(409);

    const e = await accepted(c.id);
    await waitForDelivery(t, e.id, (x) => x.state === 'retrying');
    expect((await t.call('DELETE', `/api/connectors/${c.id}`)).statusCode).toBe(204);
    const after = await waitForDelivery(t, e.id);
    expect(after.state).toBe('cancelled');
  });

  it('the queue cap answers 429 QUEUE_FULL with Retry-After', async () => {
    target.answers.set('held', () => {});
    const c = await connector('held');
    const other = await connector('other-account', 'other', t.keys.otherWrite);
    const responses = [];
    for (let i = 0; i < 21; i++) responses.push(await deliver(c.id));
    const refused = responses.filter((r) => r.statusCode === 429);
    const first = refused[0];
    if (!first) throw new Error('no delivery was refused over the cap of 20');
    expect(json<ErrorResponse>(first).code).toBe('QUEUE_FULL');
    expect(json<ErrorResponse>(first).message).toContain('PLUGBOARD_DELIVERY_QUEUE_CAP');
    expect(first.headers['retry-after']).toBeDefined();
    // Another account's queue is its own.
    expect((await deliver(other.id, { event: event() }, t.keys.otherWrite)).statusCode).toBe(202);
    const pending = json<Delivery[]>(
      await t.call('GET', `/api/deliveries?connector=${c.id}&max-results=100`),
    );
    for (const d of pending) await t.call('DELETE', `/api/deliveries/${d.id}`);
  });
});
