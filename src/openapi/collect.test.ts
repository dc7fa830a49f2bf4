import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckResultSchema } from '../connectors/checks/run.js';
import { connectorTypes, type RegisteredType } from '../connectors/registry.js';
import { ConnectorSchema } from '../connectors/schemas.js';
import { DeliverySchema } from '../deliveries/schemas.js';
import { AuditEventSchema } from '../http/routes/audit.js';
import { ConnectorTypeInfoSchema, describeType } from '../http/routes/connector-types.js';
import { MeSchema } from '../http/routes/me.js';
import { collectRoutes, forSerialization, UndocumentedRouteError } from './collect.js';
import { type JsonSchema, jsonResponse, type RouteSchema } from './route-schema.js';

const Thing = Type.Object({ id: Type.String() });
const Problem = Type.Object({ status: Type.Integer(), code: Type.String() });

const schema = {
  summary: 'Make a thing.',
  querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
  headers: { type: 'object', properties: { 'X-Count': { type: 'integer' } } },
  body: Type.Object({ id: Type.String() }, { additionalProperties: false }),
  response: { 200: jsonResponse('The thing', Thing), 400: jsonResponse('A bad thing', Problem) },
} satisfies RouteSchema;

let app: FastifyInstance;
afterEach(() => app.close());

describe('collectRoutes', () => {
  it('collects each method of a documented route, without the HEAD that Fastify adds', async () => {
    app = Fastify();
    const routes = collectRoutes(app);
    app.get('/a/:id', { schema: { ...schema, body: undefined } }, async () => ({ id: 'x' }));
    app.route({ method: ['PUT', 'POST'], url: '/b', schema, handler: async () => ({ id: 'x' }) });
    app.get('/hidden', { schema: { hide: true } }, async () => 'x');
    await app.ready();
    expect(routes.map((route) => `${route.method} ${route.url}`)).toEqual([
      'GET /a/:id',
      'PUT /b',
      'POST /b',
    ]);
    expect(routes[1]?.schema).toBe(schema);
  });

  it('refuses a route that does not document itself, naming it', () => {
    app = Fastify();
    collectRoutes(app);
    expect(() => app.get('/undocumented', async () => 'x')).toThrow(UndocumentedRouteError);
    expect(() => app.get('/x', { schema: { summary: 'no responses' } }, async () => 'x')).toThrow(
      /GET \/x declares no schema.summary and schema.response/,
    );
  });

  it('leaves requests to the handler: Fastify validates and coerces nothing it documents', async () => {
    app = Fastify();
    collectRoutes(app);
    app.post('/b', { schema }, async (request) => ({
      id: JSON.stringify([request.query, request.headers['x-count'] ?? null, request.body]),
    }));
    const response = await app.inject({
      method: 'POST',
      url: '/b?n=seven',
      headers: { 'x-count': 'many' },
      payload: { id: 5, extra: true },
    });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.json<{ id: string }>().id)).toEqual([
      { n: 'seven' },
      'many',
      { id: 5, extra: true },
    ]);
  });

  it('serializes 2xx bodies with their schema, as before, and error bodies as they are', async () => {
    app = Fastify();
    collectRoutes(app);
    app.post('/b', { schema }, async (request, reply) =>
      request.query && (request.query as { fail?: string }).fail
        ? reply.code(400).send({ status: 400, code: 'BAD', detail: 'kept' })
        : { id: 'x', notInTheSchema: 'dropped' },
    );
    expect((await app.inject({ method: 'POST', url: '/b', payload: {} })).json()).toEqual({ id: 'x' });
    const failed = await app.inject({ method: 'POST', url: '/b?fail=1', payload: {} });
    expect(failed.json()).toEqual({ status: 400, code: 'BAD', detail: 'kept' });
  });
});

describe('forSerialization', () => {
  const Choice = Type.Union([Type.Literal('ALERT'), Type.Literal('RESOLVE')], {
    description: 'what happened',
  });
  const Shared = Type.Object({ name: Type.String() });
  const Body = Type.Object({
    kind: Choice,
    maybe: Type.Optional(Type.Union([Type.Literal('HIGH'), Type.Literal('LOW')])),
    mixed: Type.Union([Type.String(), Type.Integer()]),
    list: Type.Array(Type.Object({ kind: Choice })),
    a: Shared,
    b: Shared,
  });
  const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema));
  const unions = (schema: unknown) => JSON.stringify(schema).match(/"anyOf"/g)?.length ?? 0;

  it('makes a union of string constants a string, keeps the rest, and changes nothing given', () => {
    const before = JSON.stringify(Body);
    const out = forSerialization(Body) as unknown as typeof Body;
    expect(JSON.stringify(Body)).toBe(before);
    expect(plain(out.properties.kind)).toEqual({ type: 'string', description: 'what happened' });
    expect(plain(out.properties.maybe)).toEqual({ type: 'string' });
    expect(plain(out.properties.list.items.properties.kind)).toEqual({
      type: 'string',
      description: 'what happened',
    });
    // Not all constants: left as it is (the same object).
    expect(out.properties.mixed).toBe(Body.properties.mixed);
    // Inside a union of objects (told apart by their constants): left whole.
    const Tagged = Type.Union([
      Type.Object({ kind: Choice }),
      Type.Object({ kind: Type.Literal('X'), n: Type.Integer() }),
    ]);
    expect(forSerialization(Tagged)).toBe(Tagged);
    expect(out.properties.a).toBe(Body.properties.a);
    expect(out.required).toEqual(Body.required);
    expect(forSerialization(Shared)).toBe(Shared);
    // The same schema, for another route: the same object, compiled once.
    expect(forSerialization(Body)).toBe(out);
  });

  // The answers whose schemas have unions of string constants: written byte for byte as before.
  it.each([
    [
      'a delivery',
      DeliverySchema,
      {
        id: 'dlv_x',
        connectorId: 'c',
        connectorType: 'dynamic',
        event: {
          eventType: 'ALERT',
          summary: 's',
          priority: 'HIGH',
          links: [{ href: 'https://a', text: 't' }],
          customDetails: { a: [1] },
        },
        params: { project: 'OPS' },
        state: 'retrying',
        attempts: [
          { number: 1, startedAt: 't', durationMs: 1, httpStatus: 503, outcome: 'retry', message: 'm' },
        ],
        nextAttemptAt: 'n',
        externalRef: { id: '1', url: 'https://a/1' },
        createdAt: 'c',
        updatedAt: 'u',
      },
    ],
    ['an audit event', AuditEventSchema, undefined],
    ['the caller', MeSchema, undefined],
    ['a connector type', ConnectorTypeInfoSchema, describeType(connectorTypes[0] as RegisteredType)],
    ['a check', CheckResultSchema, undefined],
    ['a connector with its last check', ConnectorSchema, undefined],
  ])('writes %s as its declared schema does, without a union', async (_name, schema, value) => {
    const { default: build } = await import('fast-json-stringify');
    const simple = forSerialization(schema as unknown as JsonSchema);
    expect(unions(schema)).toBeGreaterThan(0);
    expect(unions(simple)).toBe(0);
    const sample = value ?? sampleOf(schema);
    expect(build(simple as object)(sample)).toBe(build(schema)(sample));
  });
});

/** A value of a schema: every property, strings 's', the first constant of a union, 1 for numbers. */
function sampleOf(schema: unknown): unknown {
  const node = schema as Record<string, unknown>;
  if (Array.isArray(node.anyOf)) return sampleOf(node.anyOf[0]);
  if ('const' in node) return node.const;
  if (Array.isArray(node.enum)) return node.enum[0];
  switch (node.type) {
    case 'object':
      return Object.fromEntries(
        Object.entries((node.properties ?? {}) as Record<string, unknown>).map(([k, v]) => [k, sampleOf(v)]),
      );
    case 'array':
      return [sampleOf(node.items)];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    default:
      return 's';
  }
}
