import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DeliveryEvent } from '../../connectors/delivery.js';
import { AlertmanagerPayloadSchema, eventFromAlertmanager } from '../../deliveries/alertmanager.js';
import { DeliveryInputSchema, DeliveryListSchema, DeliverySchema } from '../../deliveries/schemas.js';
import { eventProblems, optionsFromQuery, parseDeliveryInput } from '../../deliveries/validate.js';
import type { DeliveryOf, DeliveryWorker } from '../../deliveries/worker.js';
import { type ErrorDetail, errors, summarizeProblems } from '../../errors.js';
import { isRecord } from '../../is-record.js';
import { jsonResponse, type RouteSchema, withHeaders } from '../../openapi/route-schema.js';
import type { ConnectorStore, StoredConnector } from '../../store/connector-store.js';
import { DELIVERY_STATES, type Delivery, type DeliveryStore } from '../../store/delivery-store.js';
import type { IdempotencyStore } from '../../store/idempotency-store.js';
import type { DeliveryState } from '../../store/schema.js';
import { principalOf } from '../auth.js';
import {
  fingerprint,
  IdempotencyKeyHeader,
  IdempotentReplayedHeader,
  idempotencyErrors,
  idempotencyKeyOf,
} from '../idempotency.js';
import { PageQuerySchema, pageErrors, parsePage } from '../paging.js';
import {
  errorResponse,
  keyErrors,
  RateLimitHeaders,
  RetryAfterHeader,
  writeKeyErrors,
} from '../responses.js';
import { connectorIdParams } from './connectors.js';

export interface DeliveryRoutesOptions {
  readonly connectors: ConnectorStore;
  readonly deliveries: DeliveryStore;
  readonly idempotency: IdempotencyStore;
  readonly deliveryOf: DeliveryOf;
  /** Told of every delivery queued here, so that it is sent without waiting for the next poll. */
  readonly worker: Pick<DeliveryWorker, 'notify'> | undefined;
  /** Pending deliveries an account may have (PLUGBOARD_DELIVERY_QUEUE_CAP). */
  readonly queueCap: number;
  /** Told after every delivery queued here (the SQLite checkpoint thread starts with the first). */
  readonly onQueued?: () => void;
}

const tags = ['Deliveries'];
const deliveryIdParams = Type.Object({ id: Type.String({ description: 'the delivery id (dlv_…)' }) });
type IdParams = Static<typeof deliveryIdParams>;

const accepted = jsonResponse('The delivery, durably queued', DeliverySchema);
const deliveryNotFound = { 404: errorResponse('No such delivery') } as const;
const queueErrors = {
  404: errorResponse('No such connector'),
  413: errorResponse('The body is larger than 64 KiB'),
  415: errorResponse('The body is not JSON'),
  422: errorResponse(
    "The connector's type does not deliver, or the connector lacks what delivery needs (the message says what to add), " +
      'or this API key used this Idempotency-Key with another body',
  ),
  429: withHeaders(
    errorResponse(
      'The account has PLUGBOARD_DELIVERY_QUEUE_CAP deliveries waiting (QUEUE_FULL), or over the rate limit; with Retry-After',
    ),
    RateLimitHeaders,
  ),
} as const;

const create = {
  tags,
  summary: 'Deliver an event through a connector.',
  description:
    'Answers 202 once the delivery is durably queued (in the same transaction); a worker sends it, ' +
    'retrying transient failures with backoff for about a day. At-least-once: see README "Deliveries".',
  params: connectorIdParams,
  headers: { type: 'object', properties: IdempotencyKeyHeader },
  body: DeliveryInputSchema,
  response: {
    202: withHeaders(accepted, IdempotentReplayedHeader),
    400: errorResponse(
      "The body is not a valid delivery: the event, or the type's options (unknown keys are named)",
    ),
    ...writeKeyErrors,
    ...queueErrors,
    409: withHeaders(errorResponse('A request with this Idempotency-Key is still running'), RetryAfterHeader),
  },
} satisfies RouteSchema;

const alertmanager = {
  tags,
  summary: 'Deliver an Alertmanager notification (webhook payload version 4) through a connector.',
  description:
    'One delivery per notification: alertKey from the group key, firing → ALERT, resolved → RESOLVE, ' +
    'the summary from the common summary annotation or the alert name, details listing every alert. ' +
    "The type's options come from the query string (e.g. ?project=OPS&issueType=Bug).",
  params: connectorIdParams,
  querystring: {
    type: 'object',
    properties: {},
    additionalProperties: { type: 'string' },
    description: "the delivery options of the connector's type",
  },
  body: AlertmanagerPayloadSchema,
  response: {
    202: accepted,
    400: errorResponse(
      "The body is not Alertmanager's version 4 payload, or an option in the query string is invalid",
    ),
    ...writeKeyErrors,
    ...queueErrors,
  },
} satisfies RouteSchema;

const list = {
  tags,
  summary: 'Get deliveries, newest first.',
  querystring: {
    type: 'object',
    properties: {
      connector: { type: 'string', description: "only this connector's deliveries" },
      state: {
        type: 'string',
        enum: [...DELIVERY_STATES],
        description: 'only deliveries in this state',
      },
      ...PageQuerySchema.properties,
    },
  },
  response: {
    200: jsonResponse('The deliveries', DeliveryListSchema),
    ...pageErrors,
    400: errorResponse('start-index, max-results, connector or state is invalid'),
    ...keyErrors,
  },
} satisfies RouteSchema;

const get = {
  tags,
  summary: 'Get a delivery, with its attempts.',
  params: deliveryIdParams,
  response: { 200: jsonResponse('The delivery', DeliverySchema), ...keyErrors, ...deliveryNotFound },
} satisfies RouteSchema;

const retry = {
  tags,
  summary: 'Queue a failed (or cancelled) delivery again.',
  params: deliveryIdParams,
  response: {
    202: jsonResponse('The delivery, queued again', DeliverySchema),
    ...writeKeyErrors,
    ...deliveryNotFound,
    409: errorResponse('The delivery has not failed (it is queued, being sent, retrying or delivered)'),
  },
} satisfies RouteSchema;

const cancel = {
  tags,
  summary: 'Cancel a queued or retrying delivery.',
  params: deliveryIdParams,
  response: {
    200: jsonResponse('The delivery, cancelled', DeliverySchema),
    ...writeKeyErrors,
    ...deliveryNotFound,
    409: errorResponse('The delivery is being sent now, or is finished'),
  },
} satisfies RouteSchema;

/** One query parameter given at most once. */
function single(query: Record<string, unknown>, name: string, problems: ErrorDetail[]): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    problems.push({ field: name, message: `${name} was given more than once; give it once` });
    return undefined;
  }
  return value;
}

export function deliveryRoutes(app: FastifyInstance, options: DeliveryRoutesOptions): void {
  const { connectors, deliveries, idempotency, deliveryOf, worker, queueCap, onQueued } = options;

  /** The connector and its delivery, or the 404 / 422 that says why not. */
  async function deliverableConnector(accountId: number, id: string) {
    const connector = await connectors.get(accountId, id);
    if (!connector) throw errors.connectorNotFound('id', id);
    const definition = deliveryOf(connector.type);
    if (!definition) {
      throw errors.cannotDeliver(
        `type ${connector.type.id} does not deliver: a ${connector.type.displayName} connector stores credentials but cannot send events yet`,
      );
    }
    return { connector, definition };
  }

  function refuseMissing(missing: string | undefined): void {
    if (missing) throw errors.cannotDeliver(missing);
  }

  async function queue(
    reply: FastifyReply,
    accountId: number,
    connector: StoredConnector,
    event: DeliveryEvent,
    deliveryOptions: Record<string, unknown>,
  ): Promise<Delivery> {
    const delivery = await deliveries.enqueue(
      accountId,
      { id: connector.id, type: connector.type.id },
      event,
      deliveryOptions,
      queueCap,
    );
    worker?.notify(connector.id, accountId);
    onQueued?.();
    reply.code(202);
    return delivery;
  }

  app.post<{ Params: { id: string } }>(
    '/api/connectors/:id/deliveries',
    { schema: create },
    async (request, reply) => {
      const { accountId, keyId } = principalOf(request);
      const { connector, definition } = await deliverableConnector(accountId, request.params.id);
      const input = parseDeliveryInput(connector.type, definition.options, request.body);
      refuseMissing(definition.missing?.(connector.params));
      const key = idempotencyKeyOf(request.headers['idempotency-key']);
      if (key === undefined) return queue(reply, accountId, connector, input.event, input.options);
      const outcome = await idempotency.run(
        { accountId, apiKeyId: keyId },
        key,
        fingerprint({ deliveriesOf: connector.id, body: request.body }),
        async (trx) => ({
          status: 202,
          body: await deliveries.enqueue(
            accountId,
            { id: connector.id, type: connector.type.id },
            input.event,
            input.options,
            queueCap,
            trx,
          ),
        }),
      );
      switch (outcome.kind) {
        case 'done':
          worker?.notify(connector.id, accountId);
          return reply.code(202).send(outcome.body);
        case 'replay':
          return reply.code(202).header('Idempotent-Replayed', 'true').send(outcome.body);
        case 'mismatch':
          throw idempotencyErrors.mismatch();
        case 'in-progress':
          throw idempotencyErrors.inProgress();
      }
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/connectors/:id/alertmanager',
    { schema: alertmanager },
    async (request, reply) => {
      const { accountId } = principalOf(request);
      const { connector, definition } = await deliverableConnector(accountId, request.params.id);
      const event = eventFromAlertmanager(request.body);
      const problems = eventProblems(event, '');
      if (problems.length > 0) {
        throw errors.validation(
          `the notification makes no valid event: ${summarizeProblems(problems)}`,
          problems,
        );
      }
      const query = isRecord(request.query) ? request.query : {};
      const deliveryOptions = optionsFromQuery(
        connector.type,
        definition.options,
        query as Record<string, string | string[] | undefined>,
      );
      refuseMissing(definition.missing?.(connector.params));
      return queue(reply, accountId, connector, event, deliveryOptions);
    },
  );

  app.get('/api/deliveries', { schema: list }, async (request) => {
    const { accountId } = principalOf(request);
    const query = isRecord(request.query) ? request.query : {};
    const { offset, limit } = parsePage(query);
    const problems: ErrorDetail[] = [];
    const connectorId = single(query, 'connector', problems);
    const state = single(query, 'state', problems);
    if (state !== undefined && !DELIVERY_STATES.includes(state as DeliveryState)) {
      problems.push({ field: 'state', message: `state must be one of ${DELIVERY_STATES.join(', ')}` });
    }
    if (problems.length > 0) throw errors.invalidQuery(problems);
    return deliveries.list(
      accountId,
      {
        ...(connectorId === undefined ? {} : { connectorId }),
        ...(state === undefined ? {} : { state: state as DeliveryState }),
      },
      offset,
      limit,
    );
  });

  app.get<{ Params: IdParams }>('/api/deliveries/:id', { schema: get }, async (request) => {
    const { accountId } = principalOf(request);
    const delivery = await deliveries.get(accountId, request.params.id);
    if (!delivery) throw errors.deliveryNotFound(request.params.id);
    return delivery;
  });

  app.post<{ Params: IdParams }>('/api/deliveries/:id/retry', { schema: retry }, async (request, reply) => {
    const { accountId } = principalOf(request);
    const delivery = await deliveries.retry(accountId, request.params.id);
    if (!delivery) throw errors.deliveryNotFound(request.params.id);
    worker?.notify(delivery.connectorId, accountId);
    return reply.code(202).send(delivery);
  });

  app.delete<{ Params: IdParams }>('/api/deliveries/:id', { schema: cancel }, async (request) => {
    const { accountId } = principalOf(request);
    const delivery = await deliveries.cancel(accountId, request.params.id);
    if (!delivery) throw errors.deliveryNotFound(request.params.id);
    return delivery;
  });
}
