import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errors } from '../../errors.js';
import { jsonResponse, type RouteSchema, withHeaders } from '../../openapi/route-schema.js';
import type { DatabaseHandle } from '../../store/database.js';
import { createHealthProbe, HEALTH_MAX_AGE_MS } from '../health-probe.js';
import { errorResponse, RetryAfterHeader } from '../responses.js';

const HealthSchema = Type.Object(
  {
    status: Type.Literal('ok'),
    ageMs: Type.Integer({
      minimum: 0,
      maximum: HEALTH_MAX_AGE_MS - 1,
      description:
        'How long ago the database probe that this answer reports succeeded, in milliseconds: the database is probed at most once a second, and the calls in between get the last success',
    }),
  },
  { additionalProperties: false },
);

/**
 * GET /healthz: 200 once the database takes writes, 503 while it does not. No key needed. A 200
 * is at most a second old (`ageMs`): after a success the database is probed again a second later.
 */
export function healthRoutes(app: FastifyInstance, database: DatabaseHandle): void {
  const probe = createHealthProbe(() => database.ping());
  const schema = {
    summary: 'Health: 200 once the database takes writes (probed at most once a second).',
    response: {
      200: jsonResponse('The service and its database answer; ageMs says how old the probe is', HealthSchema),
      503: withHeaders(
        errorResponse('The database does not answer or does not take writes'),
        RetryAfterHeader,
      ),
    },
  } satisfies RouteSchema;
  app.get('/healthz', { schema }, async (request, reply) => {
    const answer = await probe();
    if (answer.ok) {
      // Two fields of fixed shape: JSON.stringify writes what the schema's serializer would, and a
      // server's first /healthz (what a load balancer or orchestrator waits for) does not wait for
      // that serializer's compile (fast-json-stringify and its Ajv, tens of milliseconds).
      reply.serializer(JSON.stringify);
      return { status: 'ok', ageMs: Math.round(answer.ageMs) };
    }
    if (answer.fresh) request.log.warn({ err: answer.error }, 'health check: the database does not answer');
    // The API's error shape, like every other error; load balancers look at the status alone.
    throw errors.unavailable(
      'the database does not answer or does not take writes; the server log has the cause',
    );
  });
}
