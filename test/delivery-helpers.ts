import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { CheckRun, Params } from '../src/connectors/checks/types.js';
import type { DeliveryDefinition } from '../src/connectors/delivery.js';
import { sendAndJudge } from '../src/connectors/delivery-http.js';
import type { RegisteredType } from '../src/connectors/registry.js';
import type { RetrySchedule } from '../src/deliveries/schedule.js';
import type { DeliveryOf } from '../src/deliveries/worker.js';
import type { Delivery } from '../src/store/delivery-store.js';
import { json, type TestContext } from './helpers.js';

/**
 * A webhook delivery for tests, given to the `dynamic` type until that type declares its own: it
 * posts the event as JSON to the connector's `url` with its `authorization`, and an
 * `Idempotency-Key` from the delivery's id. Options: an optional `tag` (a string) and `count` (an
 * integer), so that option validation has something to check.
 */
export const testWebhook: DeliveryDefinition<Params, CheckRun> = {
  kind: 'webhook',
  description: 'POST {url} with the event as JSON (test definition)',
  options: Type.Object(
    { tag: Type.Optional(Type.String({ minLength: 1 })), count: Type.Optional(Type.Integer()) },
    { additionalProperties: false },
  ),
  missing: (params) =>
    params.authorization ? undefined : 'add the authorization param: the test webhook needs one to deliver',
  send: ({ event, options, params, deliveryId }, run) =>
    sendAndJudge(run, 'the webhook', {
      method: 'POST',
      url: params.url ?? '',
      headers: {
        'content-type': 'application/json',
        ...(params.authorization ? { authorization: params.authorization } : {}),
        ...(deliveryId ? { 'idempotency-key': deliveryId } : {}),
      },
      body: JSON.stringify({ event, options }),
    }),
};

/** Each type's own delivery, and the test webhook for dynamic while it declares none. */
export const withTestWebhook: DeliveryOf = (type: RegisteredType) =>
  type.deliver ?? (type.id === 'dynamic' ? testWebhook : undefined);

/** Only dynamic delivers, through the test webhook: the engine's tests, whatever the types declare. */
export const onlyTestWebhook: DeliveryOf = (type: RegisteredType) =>
  type.id === 'dynamic' ? testWebhook : undefined;

/** Retries within a test's patience: 50 ms, 100 ms, 200 ms, then give up. */
export const QUICK_RETRIES: RetrySchedule = { pausesMs: [50, 100, 200], maxAgeMs: 60_000 };

/** What a target saw: one request. */
export interface Seen {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

/** A local target whose answer per path a test decides; it records what it received. */
export class Target {
  readonly seen: Seen[] = [];
  private server: Server | undefined;
  url = '';
  /** How `/<name>` answers; default 200 `{}`. */
  readonly answers = new Map<string, (req: IncomingMessage, res: ServerResponse, body: string) => void>();

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        const body = Buffer.concat(chunks).toString('utf8');
        this.seen.push({ path, headers: req.headers, body, at: Date.now() });
        const name = path.split('/')[1] ?? '';
        const answer = this.answers.get(name);
        if (answer) answer(req, res, body);
        else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  seenAt(name: string): Seen[] {
    return this.seen.filter((s) => s.path.split('/')[1] === name);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** Polls GET /api/deliveries/{id} until `done` holds (or the time is up: the last one seen). */
export async function waitForDelivery(
  t: TestContext,
  id: string,
  done: (d: Delivery) => boolean = (d) => ['delivered', 'failed', 'cancelled'].includes(d.state),
  timeoutMs = 10_000,
): Promise<Delivery> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const response = await t.call('GET', `/api/deliveries/${id}`);
    const delivery = json<Delivery>(response);
    if (done(delivery) || Date.now() > until) return delivery;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
