import { randomUUID } from 'node:crypto';
import type { FastifyInstance, RawRequestDefaultExpression } from 'fastify';

const acceptableRequestId = /^[\w.:-]{1,128}$/;

/** Uses the caller's X-Request-Id when it is a sane token, else a new UUID. */
export function requestIdFor(request: RawRequestDefaultExpression): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && acceptableRequestId.test(given) ? given : randomUUID();
}

/**
 * One log line per request, written when the response is done: method, route, status, latency,
 * account and request id (bound by Fastify as `requestId`). Headers and bodies are never logged.
 */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        url: request.url,
        status: reply.statusCode,
        latencyMs: Math.round(reply.elapsedTime * 100) / 100,
        account: request.principal?.accountName ?? null,
      },
      'request',
    );
  });
}
