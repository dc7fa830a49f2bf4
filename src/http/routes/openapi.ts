import type { FastifyInstance } from 'fastify';
import type { DocumentedRoute } from '../../openapi/collect.js';
import { buildOpenApiDocument } from '../../openapi/document.js';
import type { RouteSchema } from '../../openapi/route-schema.js';

/**
 * GET /api/openapi.json: the OpenAPI document of every route the app has (`routes`, complete once
 * the app is ready). No key needed. The document is made at its first request, not at start: it
 * was the largest part of building the app (issue 15, start-up), for a document few clients ask for.
 */
export function openApiRoutes(app: FastifyInstance, routes: readonly DocumentedRoute[]): void {
  let document: string | undefined;
  const schema = {
    summary: 'This document.',
    response: { 200: { description: 'OpenAPI 3 document', content: { 'application/json': {} } } },
  } satisfies RouteSchema;
  app.get('/api/openapi.json', { config: { public: true }, schema }, async (_request, reply) => {
    document ??= JSON.stringify(buildOpenApiDocument(routes));
    return reply.type('application/json; charset=utf-8').send(document);
  });
}
