import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { collectRoutes, UndocumentedRouteError } from './collect.js';
import { jsonResponse, type RouteSchema } from './route-schema.js';

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
