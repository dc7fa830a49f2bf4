import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../src/connectors/checks/redact.js';
import type { Params } from '../src/connectors/checks/types.js';
import type { DeliveryEvent, DeliveryOutcome, EventType, Ticket } from '../src/connectors/delivery.js';
import {
  CREDENTIALS,
  type DeliveryFake,
  type FakeAction,
  loadFixtures,
  type TypeFixture,
} from '../src/connectors/fixture.js';
import { connectorTypes, type RegisteredType } from '../src/connectors/registry.js';
import { createOutboundClient } from '../src/outbound/client.js';
import { answerAs } from './fake-targets.js';

/**
 * Every deliverable type, through its own `deliver`, against the fake of its target (its fixture's
 * `delivery`): the lifecycle of one alert (ALERT, ACCEPT, COMMENT, RESOLVE, then ALERT again), with
 * the ticket kept between events as the engine keeps it. The fakes refuse a wrong path, auth or body
 * shape, so each event being delivered means the target took what was sent.
 */

const fixtures = await loadFixtures();
const deliverable = connectorTypes.flatMap((type) => {
  const fixture = fixtures.get(type.id);
  return type.deliver && fixture?.delivery ? [{ type, fixture, delivery: fixture.delivery }] : [];
});

let server: Server;
let origin = '';
/** The fake answering below `/<id>` now; each test installs a new one. */
const current = new Map<string, DeliveryFake>();

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
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const http = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 2_000 });

function eventOf(eventType: EventType): DeliveryEvent {
  return {
    eventType,
    summary: `CPU on db-1 is at 97 % (${eventType})`,
    details: 'The load average has been above 20 for 10 minutes.',
    alertKey: 'db-1-cpu',
    priority: 'HIGH',
    links: [{ href: 'https://grafana.example.com/d/abc', text: 'Dashboard' }],
    customDetails: { host: 'db-1', region: 'eu-west-1' },
  };
}

/** Delivers one event as the engine does, keeping the ticket the outcome names. */
class Deliverer {
  ticket: Ticket | undefined;
  readonly fake: DeliveryFake;
  readonly params: Params;

  constructor(
    readonly type: RegisteredType,
    readonly fixture: TypeFixture<Params>,
    credentials = CREDENTIALS.good,
  ) {
    const delivery = fixture.delivery;
    if (!delivery) throw new Error(`${type.id} has no delivery fixture`);
    this.fake = delivery.fake();
    current.set(type.id, this.fake);
    this.params = delivery.params(`${origin}/${type.id}`, credentials);
  }

  async send(eventType: EventType): Promise<{ outcome: DeliveryOutcome; actions: FakeAction[] }> {
    const deliver = this.type.deliver;
    const options = this.fixture.delivery?.options ?? {};
    if (!deliver) throw new Error(`${this.type.id} does not deliver`);
    const before = this.fake.actions.length;
    const redactor = new Redactor();
    for (const name of this.type.secretParams) {
      const secret = this.params[name];
      if (secret) redactor.addSecret(secret);
    }
    const outcome = await deliver.send(
      {
        event: eventOf(eventType),
        options,
        params: this.params,
        ...(this.ticket ? { ticket: this.ticket } : {}),
      },
      {
        http,
        endpoints: { [this.type.id]: `${origin}/${this.type.id}` },
        deadline: Date.now() + 2_000,
        redactor,
      },
    );
    if (outcome.result === 'delivered' && outcome.ticket) this.ticket = outcome.ticket;
    return { outcome, actions: this.fake.actions.slice(before) };
  }
}

/** Every secret param's value, to look for in what a delivery says. */
function secretsOf(type: RegisteredType, params: Params): string[] {
  return [...type.secretParams].flatMap((name) => (params[name] ? [params[name]] : []));
}

describe.each(deliverable.map((d) => [d.type.id, d] as const))('%s delivers', (_id, { type, fixture }) => {
  const kind = type.deliver?.kind;

  it('the lifecycle of one alert, as its kind of target takes it', async () => {
    const d = new Deliverer(type, fixture);
    const results: Record<string, { outcome: DeliveryOutcome; actions: FakeAction[] }> = {};
    for (const eventType of ['ALERT', 'ACCEPT', 'COMMENT', 'RESOLVE'] as const) {
      results[eventType] = await d.send(eventType);
      expect(
        results[eventType]?.outcome,
        `${eventType}: ${results[eventType]?.outcome.message}`,
      ).toMatchObject({
        result: 'delivered',
      });
      for (const secret of secretsOf(type, d.params))
        expect(results[eventType]?.outcome.message).not.toContain(secret);
    }
    const again = await d.send('ALERT');
    expect(again.outcome.result).toBe('delivered');
    const actionsOf = (eventType: string) => (results[eventType]?.actions ?? []).map((a) => a.action);

    if (kind === 'ticket') {
      const opened = results.ALERT?.actions[0];
      expect(actionsOf('ALERT')).toEqual(['open']);
      const ticket = opened && 'ticket' in opened ? opened.ticket : '';
      expect(results.ALERT?.outcome).toMatchObject({ ticket: { id: expect.any(String), open: true } });
      expect(results.ACCEPT?.actions).toEqual([{ action: 'comment', ticket }]);
      expect(results.COMMENT?.actions).toEqual([{ action: 'comment', ticket }]);
      expect(results.RESOLVE?.actions.at(-1)).toEqual({ action: 'close', ticket });
      expect(results.RESOLVE?.outcome).toMatchObject({ ticket: { open: false } });
      // The ticket was closed: the next ALERT of the key opens another one.
      expect(again.actions.map((a) => a.action)).toEqual(['open']);
      expect(again.actions[0]).not.toEqual(opened);
    } else if (kind === 'problem') {
      const bits = (eventType: string) =>
        (results[eventType]?.actions ?? []).map((a) => (a.action === 'problem' ? a.bits : -1));
      expect(bits('ACCEPT').every((b) => (b & 2) === 2)).toBe(true);
      expect(bits('COMMENT').every((b) => (b & 4) === 4)).toBe(true);
      expect(bits('RESOLVE').every((b) => (b & 1) === 1)).toBe(true);
    } else {
      // chat and webhook: one message per event, carrying the summary.
      for (const eventType of ['ALERT', 'ACCEPT', 'COMMENT', 'RESOLVE']) {
        expect(actionsOf(eventType)).toEqual(['message']);
        const message = results[eventType]?.actions[0];
        expect(message && 'text' in message ? message.text : '').toContain('CPU on db-1');
      }
    }
  });

  if (kind === 'ticket') {
    it('a second ALERT while the ticket is open comments on it instead of opening another', async () => {
      const d = new Deliverer(type, fixture);
      const first = await d.send('ALERT');
      const second = await d.send('ALERT');
      const opened = first.actions[0];
      expect(second.actions).toEqual([
        { action: 'comment', ticket: opened && 'ticket' in opened ? opened.ticket : '' },
      ]);
    });
  }

  it('refused credentials are a permanent failure that says so, without the credential', async () => {
    const d = new Deliverer(type, fixture, CREDENTIALS.bad);
    const { outcome, actions } = await d.send('ALERT');
    expect(outcome.result).toBe('failed');
    expect(actions).toEqual([]);
    for (const secret of secretsOf(type, d.params)) expect(outcome.message).not.toContain(secret);
  });

  const cannot = fixture.delivery?.cannotDeliver;
  if (cannot) {
    it('a connector that lacks what delivery needs is refused, saying what to add', () => {
      expect(type.deliver?.missing?.(cannot)).toMatch(/\w+/);
      expect(
        type.deliver?.missing?.(fixture.delivery?.params(origin, CREDENTIALS.good) ?? {}),
      ).toBeUndefined();
    });
  }
});

describe('delivery fixtures', () => {
  it.each(connectorTypes.map((type) => [type.id, type] as const))(
    '%s has a delivery fixture exactly when it declares deliver',
    (id, type) => {
      expect(Boolean(fixtures.get(id)?.delivery), id).toBe(Boolean(type.deliver));
    },
  );
});
