import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RevealSecrets } from '../../config.js';
import {
  type Connector,
  ConnectorInputSchema,
  ConnectorListSchema,
  ConnectorSchema,
  NameSchema,
} from '../../connectors/schemas.js';
import { keepStoredSecrets, SECRET_PLACEHOLDER } from '../../connectors/secrets.js';
import { type ConnectorInput, parseConnectorInput } from '../../connectors/validate.js';
import { errors } from '../../errors.js';
import { isRecord } from '../../is-record.js';
import { described, jsonResponse, type RouteSchema, withHeaders } from '../../openapi/route-schema.js';
import type { Actor } from '../../store/audit-store.js';
import type { ConnectorStore, StoredConnector } from '../../store/connector-store.js';
import type { IdempotencyStore } from '../../store/idempotency-store.js';
import { principalOf } from '../auth.js';
import { ETagHeader, etagOf, IfMatchHeader, preconditionFailed, writePrecondition } from '../conditional.js';
import {
  earlierFingerprint,
  fingerprint,
  IdempotencyKeyHeader,
  IdempotentReplayedHeader,
  idempotencyErrors,
  idempotencyKeyOf,
} from '../idempotency.js';
import { PageQuerySchema, pageErrors, parsePage } from '../paging.js';
import { presentConnector, presentReplay } from '../present.js';
import {
  connectorBodyErrors,
  connectorNotFound,
  errorResponse,
  keyErrors,
  writeKeyErrors,
} from '../responses.js';

export interface ConnectorRoutesOptions {
  readonly store: ConnectorStore;
  readonly idempotency: IdempotencyStore;
  /** 201 as ilert's service answers (all its Go client and Terraform provider accept), or 200 as its page says. */
  readonly createStatus: 200 | 201;
  readonly revealSecrets: RevealSecrets;
}

const tags = ['Connectors'];
export const connectorIdParams = Type.Object({ id: Type.String({ description: 'entity ID' }) });
type IdParams = Static<typeof connectorIdParams>;
const ifMatchHeaders = { type: 'object', properties: IfMatchHeader } as const;
/** A connector body; ConnectorInputSchema says what it may hold, parseConnectorInput checks it. */
export const connectorBody = described(
  ConnectorInputSchema,
  'the connector; `params` is checked against the params of its `type`. `"params": null` is taken as `{}` ' +
    '(refused only where the type requires params), and `""` for an optional param means it is not set',
);

const list = {
  tags,
  summary: 'Get connectors.',
  description: 'In creation order; walking the pages while nothing changes visits every connector once.',
  querystring: PageQuerySchema,
  response: { 200: jsonResponse('The connectors', ConnectorListSchema), ...pageErrors, ...keyErrors },
} satisfies RouteSchema;

const create = (createStatus: 200 | 201) =>
  ({
    tags,
    summary: 'Create a new connector.',
    headers: { type: 'object', properties: IdempotencyKeyHeader },
    body: connectorBody,
    response: {
      [createStatus]: withHeaders(jsonResponse('The newly created connector', ConnectorSchema), {
        ...ETagHeader,
        ...IdempotentReplayedHeader,
      }),
      ...connectorBodyErrors,
      ...writeKeyErrors,
      409: withHeaders(
        errorResponse(
          'A connector with this name exists in the account, or a request with this Idempotency-Key is still running',
        ),
        {
          'Retry-After':
            'Seconds to wait before retrying; sent when a request with this Idempotency-Key is still running',
        },
      ),
      422: errorResponse('This API key used this Idempotency-Key with another body'),
    },
  }) satisfies RouteSchema;

const get = {
  tags,
  summary: 'Get a specific connector.',
  params: connectorIdParams,
  response: {
    200: withHeaders(jsonResponse('The requested connector', ConnectorSchema), ETagHeader),
    ...keyErrors,
    ...connectorNotFound,
  },
} satisfies RouteSchema;

const getByName = {
  tags,
  summary: 'Get a connector by its name.',
  params: Type.Object({ name: described(NameSchema, 'the connector name') }),
  response: {
    200: withHeaders(jsonResponse('The connector', ConnectorSchema), ETagHeader),
    ...keyErrors,
    ...connectorNotFound,
  },
} satisfies RouteSchema;

const update = {
  tags,
  summary: 'Update the specific connector. (note: type cannot be changed)',
  params: connectorIdParams,
  headers: ifMatchHeaders,
  body: connectorBody,
  response: {
    200: withHeaders(jsonResponse('The updated connector', ConnectorSchema), ETagHeader),
    ...connectorBodyErrors,
    ...writeKeyErrors,
    ...connectorNotFound,
    409: errorResponse('Another connector with this name exists in the account'),
    ...preconditionFailed,
  },
} satisfies RouteSchema;

const remove = {
  tags,
  summary: 'Remove a specific connector.',
  params: connectorIdParams,
  headers: ifMatchHeaders,
  response: {
    204: { description: 'Empty body delete response' },
    ...writeKeyErrors,
    ...connectorNotFound,
    ...preconditionFailed,
  },
} satisfies RouteSchema;

/**
 * A PUT body with the stored secrets put back where the client sent the placeholder (or, when
 * secrets are write-only, left them out): a client that read a masked connector can send it back.
 */
function withKeptSecrets(body: unknown, stored: StoredConnector, reveal: RevealSecrets): unknown {
  if (!isRecord(body)) return body;
  // `params: null` is no params (see withoutUnsetValues); a `""` is left to mean "clear this secret".
  const unset = body.params === undefined || body.params === null;
  const params = unset && reveal === 'never' ? {} : body.params;
  if (!isRecord(params)) return body;
  const kept = keepStoredSecrets(stored.type, params, stored.params, { keepOmitted: reveal === 'never' });
  if (kept.refused.length > 0) {
    throw errors.validation(
      'the URL changed, so the stored secrets are not kept: send the secret params again with the new URL',
      kept.refused.map((name) => ({
        field: `/params/${name}`,
        message: 'must be sent again when the URL changes',
      })),
    );
  }
  return { ...body, params: kept.params };
}

/**
 * A create's body as a connector. A secret sent as the placeholder (a connector read masked, by a
 * read key or with PLUGBOARD_REVEAL_SECRETS=never, sent back as a new one) has no stored value to stand for: stored, it would be the credential
 * `********`, and a write key would read it back looking masked. It is refused, naming the param.
 */
function parseNewConnector(body: unknown): ConnectorInput {
  const input = parseConnectorInput(body);
  const masked = [...input.type.secretParams].filter((name) => input.params[name] === SECRET_PLACEHOLDER);
  if (masked.length > 0) {
    throw errors.validation(
      `invalid connector: ${masked.map((name) => `/params/${name}`).join(', ')} is ${SECRET_PLACEHOLDER}, the mask a masked read shows in place of a secret; send the secret itself`,
      masked.map((name) => ({
        field: `/params/${name}`,
        message: `must be the secret itself, not the mask ${SECRET_PLACEHOLDER}`,
      })),
    );
  }
  return input;
}

export function connectorRoutes(
  app: FastifyInstance,
  { store, idempotency, createStatus, revealSecrets }: ConnectorRoutesOptions,
): void {
  const caller = (request: FastifyRequest) => {
    const principal = principalOf(request);
    const actor: Actor = { keyId: principal.keyId, keyLabel: principal.label };
    const present = (connector: StoredConnector) =>
      presentConnector(connector, principal.role, revealSecrets);
    const replayed = (body: unknown) => presentReplay(body, principal.role, revealSecrets);
    return { accountId: principal.accountId, actor, present, replayed };
  };

  app.get('/api/connectors', { schema: list }, async (request, reply) => {
    const { accountId, present } = caller(request);
    const { offset, limit } = parsePage(request.query);
    const page = (await store.list(accountId, offset, limit)).map(present);
    // The array of each connector's JSON, made once per version (jsonOf): what the list's serializer makes.
    return reply.type(JSON_TYPE).send(`[${page.map((view) => jsonOf(reply, view)).join(',')}]`);
  });

  app.post('/api/connectors', { schema: create(createStatus) }, async (request, reply) => {
    const { accountId, actor, present, replayed } = caller(request);
    const key = idempotencyKeyOf(request.headers['idempotency-key']);
    if (key === undefined) {
      const input = parseNewConnector(request.body);
      const created = await store.create(accountId, actor, input);
      return sendTagged(reply.code(createStatus), present(created));
    }

    // With an Idempotency-Key: the first request with it creates, a retry replays its response.
    const outcome = await idempotency.run(
      { accountId, apiKeyId: actor.keyId },
      key,
      fingerprint(request.body),
      async (trx) => {
        const input = parseNewConnector(request.body);
        return { status: createStatus, body: present(await store.create(accountId, actor, input, trx)) };
      },
      [earlierFingerprint(request.body)],
    );
    switch (outcome.kind) {
      case 'done':
        return reply.code(createStatus).send(tagged(reply, outcome.body));
      case 'replay':
        return reply
          .code(outcome.status === 201 ? 201 : 200)
          .header('Idempotent-Replayed', 'true')
          .send(tagged(reply, replayed(outcome.body)));
      case 'mismatch':
        throw idempotencyErrors.mismatch();
      case 'in-progress':
        throw idempotencyErrors.inProgress();
    }
  });

  app.get<{ Params: IdParams }>('/api/connectors/:id', { schema: get }, async (request, reply) => {
    const { accountId, present } = caller(request);
    const connector = await store.get(accountId, request.params.id);
    if (!connector) throw errors.connectorNotFound('id', request.params.id);
    return sendTagged(reply, present(connector));
  });

  app.get<{ Params: { name: string } }>(
    '/api/connectors/name/:name',
    { schema: getByName },
    async (request, reply) => {
      const { accountId, present } = caller(request);
      const connector = await store.getByName(accountId, request.params.name);
      if (!connector) throw errors.connectorNotFound('name', request.params.name);
      return sendTagged(reply, present(connector));
    },
  );

  app.put<{ Params: IdParams }>('/api/connectors/:id', { schema: update }, async (request, reply) => {
    const { accountId, actor, present } = caller(request);
    const { id } = request.params;
    const body: unknown = request.body;
    const precondition = writePrecondition(request.headers, present);
    const updated = await store.update(accountId, actor, id, (current) => {
      // The precondition first (RFC 9110 13.2.1): a stale If-Match is 412 whatever the body holds.
      precondition?.(current);
      if (isRecord(body) && 'type' in body && body.type !== current.type.id)
        throw errors.typeImmutable(current.type.id);
      const input = parseConnectorInput(withKeptSecrets(body, current, revealSecrets));
      return { name: input.name, params: input.params };
    });
    if (!updated) throw errors.connectorNotFound('id', id);
    return sendTagged(reply, present(updated));
  });

  app.delete<{ Params: IdParams }>('/api/connectors/:id', { schema: remove }, async (request, reply) => {
    const { accountId, actor, present } = caller(request);
    const deleted = await store.delete(
      accountId,
      actor,
      request.params.id,
      writePrecondition(request.headers, present),
    );
    if (!deleted) throw errors.connectorNotFound('id', request.params.id);
    return reply.code(204).send();
  });
}

/** The representation, with its ETag set on the reply. */
function tagged<T>(reply: FastifyReply, representation: T): T {
  reply.header('ETag', etagOf(representation));
  return representation;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** The JSON of each frozen representation (one per connector version and view, see present.ts). */
const jsons = new WeakMap<Connector, string>();

/** The routes' serializer of a connector, once a route compiled it (jsonOf). */
let serializer: ((view: Connector) => string) | undefined;

/**
 * A representation's JSON as the routes make it (jsonOf), for a read answered outside Fastify's
 * reply pipeline (fast-reads.ts): the one kept for a frozen representation, else made by the
 * routes' own serializer; undefined until a route compiled that.
 */
export function sentJsonOf(view: Connector): string | undefined {
  const known = jsons.get(view);
  if (known !== undefined || serializer === undefined) return known;
  const json = serializer(view);
  if (Object.isFrozen(view)) jsons.set(view, json);
  return json;
}

/** A view's keys as present.ts makes them, in the schema's order (the serializer writes them in that order). */
const VIEW_KEYS = ['id', 'type', 'name', 'createdAt', 'updatedAt', 'params'] as const;
/** A param name the serializer leaves out: its pattern `^(.*)$` matches no line terminator. */
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/**
 * Whether JSON.stringify writes `view` as the serializer does: exactly the keys it writes, in its
 * order, no lastCheck (an object the serializer writes by its own schema), every value a string
 * (the serializer quotes a string as JSON.stringify does: `"` and `\` escaped, anything else
 * that needs it handed to JSON.stringify itself), params a plain record of strings whose names it
 * writes. Anything else is serialized by the serializer.
 */
function stringifiesAsSerialized(view: Connector): boolean {
  let index = 0;
  // In order, none past params (lastCheck); one missing could only be params, checked below.
  for (const key in view) if (key !== VIEW_KEYS[index++]) return false;
  const { params } = view;
  if (
    typeof view.id !== 'string' ||
    typeof view.type !== 'string' ||
    typeof view.name !== 'string' ||
    typeof view.createdAt !== 'string' ||
    typeof view.updatedAt !== 'string' ||
    typeof params !== 'object' ||
    params === null ||
    Object.getPrototypeOf(params) !== Object.prototype
  )
    return false;
  for (const name in params) {
    if (!Object.hasOwn(params, name) || typeof params[name] !== 'string' || LINE_TERMINATOR.test(name))
      return false;
  }
  // A toJSON of its own (a string param of that name is not called by either).
  return typeof (params as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * A list page's JSON as the list route makes it (the array of each view's jsonOf), for views not
 * kept (a page read once, such as a walk's): by one JSON.stringify of the array where each view
 * is written by it as by the serializer (~1.3 µs a connector against ~2-3 for the serializer's
 * string building, on the bench's walk), else view by view by the serializer. Undefined until a
 * route compiled the serializer, as sentJsonOf.
 */
export function sentPageJsonOf(views: readonly Connector[]): string | undefined {
  const serialize = serializer;
  if (serialize === undefined) return undefined;
  if (views.every(stringifiesAsSerialized)) return JSON.stringify(views);
  // A kept view's JSON is the serializer's, made once (jsonOf).
  return `[${views.map((view) => jsons.get(view) ?? serialize(view)).join(',')}]`;
}

/** A connector's JSON as the route's schema serializes it; made once per frozen representation. */
function jsonOf(reply: FastifyReply, view: Connector): string {
  const known = jsons.get(view);
  if (known !== undefined) return known;
  const serialize = reply.compileSerializationSchema(ConnectorSchema);
  serializer ??= serialize;
  const json = serialize(view);
  if (Object.isFrozen(view)) jsons.set(view, json);
  return json;
}

/** Sends a connector with its ETag, serialized once per version and view. */
function sendTagged(reply: FastifyReply, view: Connector): FastifyReply {
  return reply.header('ETag', etagOf(view)).type(JSON_TYPE).send(jsonOf(reply, view));
}
