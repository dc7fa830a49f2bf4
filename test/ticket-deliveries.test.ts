import { createServer, type Server } from 'node:http';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../src/connectors/checks/redact.js';
import type { Params } from '../src/connectors/checks/types.js';
import type { DeliveryEvent, DeliveryOutcome, EventType, Ticket } from '../src/connectors/delivery.js';
import { DELIVERY_USER_AGENT } from '../src/connectors/delivery-http.js';
import {
  CREDENTIALS,
  type DeliveryFixture,
  type FakeSystem,
  GOOD,
  loadFixtures,
} from '../src/connectors/fixture.js';
import { connectorTypes, findConnectorType, type RegisteredType } from '../src/connectors/registry.js';
import { SECRET_PLACEHOLDER } from '../src/connectors/secrets.js';
import { createOutboundClient } from '../src/outbound/client.js';
import { answerAs } from './fake-targets.js';

/**
 * The edges of ticket deliveries, over every type of kind `ticket` (test/deliver-types.test.ts runs
 * their lifecycle): events without a ticket to act on, what the target's errors become (failed, or
 * retried honouring Retry-After), credentials a target echoes, options that are wrong, and what a
 * few targets do their own way (GitHub's rate limit, Autotask's 500s, Jira's transitions).
 */

const fixtures = await loadFixtures();
const ticketTypes = connectorTypes.flatMap((type) => {
  const delivery = fixtures.get(type.id)?.delivery;
  return type.deliver?.kind === 'ticket' && delivery ? [{ type, delivery }] : [];
});

let server: Server;
let origin = '';
/** How the target below `/<id>` answers now. */
const systems = new Map<string, FakeSystem>();
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests += 1;
      const [, id = '', ...rest] = new URL(req.url ?? '/', 'http://fake').pathname.split('/');
      answerAs(systems.get(id), req, res, `/${rest.join('/')}`, Buffer.concat(chunks).toString('utf8'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  origin = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const http = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 2_000 });

function event(eventType: EventType, extra: Partial<DeliveryEvent> = {}): DeliveryEvent {
  return { eventType, summary: 'Disk full on db-2', alertKey: 'db-2-disk', priority: 'LOW', ...extra };
}

interface Delivery {
  readonly type: RegisteredType;
  readonly params: Params;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly ticket?: Ticket;
  /** Where the type's target is: its fake (the default) or another base URL. */
  readonly base?: string;
}

/** Delivers one event through the type's own `deliver`, as the engine does. */
async function deliver(
  { type, params, options, ticket, base }: Delivery,
  sent: DeliveryEvent,
): Promise<DeliveryOutcome> {
  const definition = type.deliver;
  const fixture = fixtures.get(type.id)?.delivery;
  if (!definition || !fixture) throw new Error(`${type.id} does not deliver`);
  const redactor = new Redactor();
  for (const name of type.secretParams) if (params[name]) redactor.addSecret(params[name]);
  const outcome = await definition.send(
    { event: sent, options: options ?? fixture.options, params, ...(ticket ? { ticket } : {}) },
    {
      http,
      endpoints: { [type.id]: base ?? `${origin}/${type.id}` },
      deadline: Date.now() + 2_000,
      redactor,
    },
  );
  // The engine redacts every message again with the run's redactor; these tests look at what the
  // type said itself, so that a type that would quote a credential fails here.
  return outcome;
}

function good(type: RegisteredType, delivery: DeliveryFixture<Params>): Params {
  return delivery.params(`${origin}/${type.id}`, CREDENTIALS.good);
}

const byId = ticketTypes.map(({ type, delivery }) => [type.id, { type, delivery }] as const);

describe.each(byId)('%s', (id, { type, delivery }) => {
  const params = () => good(type, delivery);
  const secrets = () =>
    [...type.secretParams].flatMap((name) => (params()[name] ? [params()[name] ?? ''] : []));

  it('ALERT on the open ticket of its key comments on it, naming the ticket', async () => {
    const fake = delivery.fake();
    systems.set(id, fake.answer);
    const opened = await deliver({ type, params: params() }, event('ALERT'));
    expect(opened).toMatchObject({ result: 'delivered', ticket: { open: true } });
    if (opened.result !== 'delivered' || !opened.ticket) throw new Error(opened.message);
    expect(opened.externalRef).toEqual({
      id: opened.ticket.id,
      ...(opened.ticket.url ? { url: opened.ticket.url } : {}),
    });
    const again = await deliver({ type, params: params(), ticket: opened.ticket }, event('ALERT'));
    expect(again).toMatchObject({ result: 'delivered', ticket: opened.ticket });
    expect(again.message).toContain(`commented on`);
    expect(again.message).toContain(opened.ticket.id);
    expect(fake.actions.map((a) => a.action)).toEqual(['open', 'comment']);
  });

  it.each(['RESOLVE', 'ACCEPT', 'COMMENT'] as const)(
    '%s without a ticket of its key is delivered without a call, saying there is nothing to act on',
    async (eventType) => {
      systems.set(id, delivery.fake().answer);
      const before = requests;
      const outcome = await deliver({ type, params: params() }, event(eventType));
      expect(outcome).toMatchObject({ result: 'delivered' });
      expect(outcome.message).toMatch(
        /^no \S+ \w+ was opened for alertKey db-2-disk, so there is nothing to/,
      );
      expect(requests).toBe(before);
    },
  );

  it('RESOLVE of a ticket already closed sends nothing; ACCEPT still comments on it', async () => {
    const fake = delivery.fake();
    systems.set(id, fake.answer);
    const opened = await deliver({ type, params: params() }, event('ALERT'));
    if (opened.result !== 'delivered' || !opened.ticket) throw new Error(opened.message);
    const resolved = await deliver({ type, params: params(), ticket: opened.ticket }, event('RESOLVE'));
    if (resolved.result !== 'delivered' || !resolved.ticket) throw new Error(resolved.message);
    expect(resolved.ticket.open).toBe(false);
    const before = requests;
    const twice = await deliver({ type, params: params(), ticket: resolved.ticket }, event('RESOLVE'));
    expect(twice).toMatchObject({ result: 'delivered', ticket: { open: false } });
    expect(twice.message).toContain('already closed');
    expect(requests).toBe(before);
  });

  it.each([
    [401, {}, 'failed', undefined],
    [403, {}, 'failed', undefined],
    [404, {}, 'failed', undefined],
    [422, {}, 'failed', undefined],
    [429, { 'retry-after': '7' }, 'retry', 7_000],
    [500, {}, 'retry', undefined],
    [502, {}, 'retry', undefined],
    [503, { 'retry-after': '120' }, 'retry', 120_000],
  ] as const)(
    'a target answering HTTP %i is %s (Retry-After honoured)',
    async (status, headers, result, wait) => {
      systems.set(id, ({ send }) => send(status, { message: `status ${status}` }, headers));
      const outcome = await deliver({ type, params: params() }, event('ALERT'));
      expect(outcome).toMatchObject({ result, httpStatus: status });
      if (wait !== undefined) expect(outcome).toMatchObject({ retryAfterMs: wait });
      if (status === 401 || status === 403) expect(outcome.message).toContain('check the credentials');
    },
  );

  it(`every request says it comes from ${DELIVERY_USER_AGENT}`, async () => {
    const agents: (string | undefined)[] = [];
    const fake = delivery.fake();
    systems.set(id, (request) => {
      agents.push(request.req.headers['user-agent']);
      fake.answer(request);
    });
    const opened = await deliver({ type, params: params() }, event('ALERT'));
    if (opened.result !== 'delivered' || !opened.ticket) throw new Error(opened.message);
    await deliver({ type, params: params(), ticket: opened.ticket }, event('RESOLVE'));
    expect(agents.length).toBeGreaterThanOrEqual(2);
    expect(new Set(agents)).toEqual(new Set([DELIVERY_USER_AGENT]));
  });

  it('no answer (connection refused) is retried', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    await new Promise((resolve) => closed.close(resolve));
    if (address === null || typeof address === 'string') throw new Error('no port');
    const base = `http://127.0.0.1:${address.port}/${id}`;
    const outcome = await deliver(
      { type, params: delivery.params(base, CREDENTIALS.good), base },
      event('ALERT'),
    );
    expect(outcome.result).toBe('retry');
  });

  it('a target that echoes the credentials it got has none of them quoted in the message', async () => {
    systems.set(id, ({ req, body, send }) => {
      const echoed = [
        req.headers.authorization,
        req.headers.apiintegrationcode,
        req.headers.secret,
        body,
        ...secrets(),
      ].join(' | ');
      send(400, { message: `bad request: ${echoed}`, errors: [echoed] });
    });
    const outcome = await deliver({ type, params: params() }, event('ALERT'));
    expect(outcome.result).toBe('failed');
    // The target's message is quoted, with every credential in it replaced.
    expect(outcome.message).toContain('bad request: ');
    expect(outcome.message).toContain(SECRET_PLACEHOLDER);
    expect(secrets().length).toBeGreaterThan(0);
    for (const secret of secrets()) expect(outcome.message).not.toContain(secret);
    expect(outcome.message).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}|Bearer \w|Token token=\w/);
  });

  it('its options are validated like params: an unknown key and a missing required one are named', () => {
    const schema = type.deliver?.options;
    if (!schema) throw new Error('no options');
    const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
    expect(validate(delivery.options), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...delivery.options, colour: 'red' })).toBe(false);
    expect(validate.errors).toContainEqual(
      expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: 'colour' } }),
    );
    for (const name of schema.required ?? []) {
      const { [name]: _left, ...without } = delivery.options;
      expect(validate(without)).toBe(false);
      expect(validate.errors).toContainEqual(
        expect.objectContaining({ keyword: 'required', params: { missingProperty: name } }),
      );
    }
  });
});

describe('options each ticket type requires', () => {
  it.each([
    ['jira', ['project']],
    ['github', ['owner', 'repository']],
    ['zammad', ['group', 'customer']],
    ['autotask', ['queueId']],
    ['servicenow', []],
    ['zendesk', []],
    ['topdesk', []],
  ])('%s requires %j', (id, required) => {
    expect(findConnectorType(id)?.deliver?.options.required ?? []).toEqual(required);
  });
});

/** A type of kind ticket with its fixture, by id. */
function ticketType(id: string) {
  const found = ticketTypes.find(({ type }) => type.id === id);
  if (!found) throw new Error(`${id} is not a ticket type here`);
  return { ...found, params: good(found.type, found.delivery) };
}

describe('targets in their own ways', () => {
  it('GitHub: an exhausted rate limit (403, remaining 0) is retried when it resets', async () => {
    const { type, params } = ticketType('github');
    const reset = Math.floor(Date.now() / 1000) + 600;
    systems.set('github', ({ send }) =>
      send(
        403,
        { message: 'API rate limit exceeded for user ID 1.' },
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      ),
    );
    const outcome = await deliver({ type, params }, event('ALERT'));
    expect(outcome).toMatchObject({ result: 'retry', httpStatus: 403 });
    const wait = outcome.result === 'retry' ? (outcome.retryAfterMs ?? 0) : 0;
    expect(wait).toBeGreaterThan(590_000);
    expect(wait).toBeLessThanOrEqual(600_000);
    expect(outcome.message).toMatch(/rate limiting/);
  });

  it('GitHub: a 403 that is no rate limit is a permanent failure', async () => {
    const { type, params } = ticketType('github');
    systems.set('github', ({ send }) =>
      send(403, { message: 'Resource not accessible by personal access token' }),
    );
    expect(await deliver({ type, params }, event('ALERT'))).toMatchObject({
      result: 'failed',
      httpStatus: 403,
    });
  });

  it('GitHub: later events act on the repository of the ticket, whatever the options say now', async () => {
    const { type, params, delivery } = ticketType('github');
    const fake = delivery.fake();
    systems.set('github', fake.answer);
    const opened = await deliver({ type, params }, event('ALERT'));
    if (opened.result !== 'delivered' || !opened.ticket) throw new Error(opened.message);
    expect(opened.ticket.id).toBe('octo-org/ops#1');
    const moved = await deliver(
      { type, params, options: { owner: 'elsewhere', repository: 'other' }, ticket: opened.ticket },
      event('ACCEPT'),
    );
    expect(moved).toMatchObject({ result: 'delivered' });
    expect(fake.actions.at(-1)).toEqual({ action: 'comment', ticket: '1' });
  });

  it('Autotask: a 500 with errors[] is its refusal (e.g. an unknown queue), not an outage', async () => {
    const { type, params, delivery } = ticketType('autotask');
    systems.set('autotask', delivery.fake().answer);
    const outcome = await deliver({ type, params, options: { queueId: '1' } }, event('ALERT'));
    expect(outcome).toMatchObject({ result: 'failed', httpStatus: 500 });
    expect(outcome.message).toContain('Value does not exist for the required field queueID');
  });

  it('Autotask: without an integration code nothing is sent and the failure says what to add', async () => {
    const { type, delivery } = ticketType('autotask');
    const without = delivery.cannotDeliver;
    if (!without) throw new Error('autotask has a connector that cannot deliver');
    expect(type.deliver?.missing?.(without)).toMatch(/add the param integrationCode/);
    const before = requests;
    const outcome = await deliver({ type, params: without }, event('ALERT'));
    expect(outcome).toMatchObject({ result: 'failed' });
    expect(outcome.message).toMatch(/add the param integrationCode/);
    expect(requests).toBe(before);
  });

  it('Autotask: a user of another zone is named, and no ticket is made there', async () => {
    const { type, delivery } = ticketType('autotask');
    systems.set('autotask', delivery.fake().answer);
    const params = { ...ticketType('autotask').params, email: GOOD.otherZoneUser };
    const outcome = await deliver({ type, params }, event('ALERT'));
    expect(outcome).toMatchObject({ result: 'failed' });
    expect(outcome.message).toContain('set the URL to https://webservices2.autotask.net');
  });

  it('Jira: RESOLVE where no transition leads to Done comments and keeps the issue open', async () => {
    const { type, params } = ticketType('jira');
    const ticket: Ticket = { id: 'OPS-7', url: `${origin}/jira/browse/OPS-7`, open: true };
    const seen: string[] = [];
    systems.set('jira', ({ req, path, send }) => {
      seen.push(`${req.method} ${path}`);
      if (path.endsWith('/transitions'))
        return send(200, { transitions: [{ id: '11', name: 'Start', to: { name: 'In Progress' } }] });
      return send(201, { id: '10100' });
    });
    const outcome = await deliver({ type, params, ticket }, event('RESOLVE'));
    expect(outcome).toMatchObject({ result: 'delivered', ticket: { id: 'OPS-7', open: true } });
    expect(outcome.message).toMatch(/no transition into a status of the Done category.*resolveTransition/);
    expect(seen).toEqual(['GET /rest/api/3/issue/OPS-7/transitions', 'POST /rest/api/3/issue/OPS-7/comment']);
  });

  it('Jira: a resolveTransition it does not offer fails, naming those it offers, before any comment', async () => {
    const { type, params, delivery } = ticketType('jira');
    const fake = delivery.fake();
    systems.set('jira', fake.answer);
    const opened = await deliver({ type, params }, event('ALERT'));
    if (opened.result !== 'delivered' || !opened.ticket) throw new Error(opened.message);
    const outcome = await deliver(
      { type, params, options: { project: 'OPS', resolveTransition: 'Close it' }, ticket: opened.ticket },
      event('RESOLVE'),
    );
    expect(outcome).toMatchObject({ result: 'failed' });
    expect(outcome.message).toContain('it offers: Start progress, Done');
    expect(fake.actions.map((a) => a.action)).toEqual(['open']);
    const named = await deliver(
      { type, params, options: { project: 'OPS', resolveTransition: 'done' }, ticket: opened.ticket },
      event('RESOLVE'),
    );
    expect(named).toMatchObject({ result: 'delivered', ticket: { open: false } });
  });

  it('a 2xx without the id of the new ticket is a failure that points at the URL', async () => {
    const { type, params } = ticketType('jira');
    systems.set('jira', ({ send }) => send(200, '<html><body>Welcome</body></html>'));
    const outcome = await deliver({ type, params }, event('ALERT'));
    expect(outcome).toMatchObject({ result: 'failed', httpStatus: 200 });
    expect(outcome.message).toMatch(/without the key of the new issue; check that the URL is the Jira API/);
  });
});
