import type { FastifyInstance } from 'fastify';
import { DEFAULT_ACCOUNT } from '../../bootstrap.js';
import type { MetricsAccess } from '../../config.js';
import { errors } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import type { RouteSchema } from '../../openapi/route-schema.js';
import { principalOf } from '../auth.js';
import { errorResponse, keyErrors } from '../responses.js';

/**
 * GET /metrics: the Prometheus text exposition (src/metrics.ts). PLUGBOARD_METRICS says who may
 * read it: `key`, a key of account `default`, read or write (the metrics count the requests and
 * checks of every account, so another account's keys get 403); `open`, anyone; `off`, the route
 * does not exist.
 */
export function metricsRoutes(
  app: FastifyInstance,
  metrics: Metrics,
  access: Exclude<MetricsAccess, 'off'>,
): void {
  const schema = {
    summary: 'Prometheus metrics: requests, checks, the database pool, the process (text format 0.0.4).',
    description:
      access === 'key'
        ? `PLUGBOARD_METRICS=key: a key of account "${DEFAULT_ACCOUNT}", read or write; the metrics count every account.`
        : 'PLUGBOARD_METRICS=open: no key needed.',
    response: {
      200: {
        description: 'The metrics in the Prometheus text exposition format',
        content: { 'text/plain': {} },
      },
      ...(access === 'key'
        ? { ...keyErrors, 403: errorResponse(`The key is not of account "${DEFAULT_ACCOUNT}"`) }
        : { 429: keyErrors[429] }),
    },
  } satisfies RouteSchema;
  app.get('/metrics', { schema, config: { keyRequired: access === 'key' } }, async (request, reply) => {
    if (access === 'key' && principalOf(request).accountName !== DEFAULT_ACCOUNT) {
      throw errors.forbidden(
        `/metrics counts every account, so it needs a key of account "${DEFAULT_ACCOUNT}": create one with plugboard keys create --account ${DEFAULT_ACCOUNT} --role read --label prometheus`,
      );
    }
    const text = await metrics.render();
    return reply.header('Cache-Control', 'no-store').type(metrics.contentType).send(text);
  });
}
