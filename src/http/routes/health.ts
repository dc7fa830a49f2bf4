import type { FastifyInstance } from 'fastify';
import { errors } from '../../errors.js';
import type { RouteSchema } from '../../openapi/route-schema.js';
import type { DatabaseHandle } from '../../store/database.js';

/** GET /healthz: 200 once the database answers, 503 while it does not. No key needed. */
export function healthRoutes(app: FastifyInstance, database: DatabaseHandle): void {
  const schema = {
    summary: 'Health: 200 once the database answers.',
    response: {
      200: { description: 'The service and its database answer' },
      503: { description: 'The database does not answer' },
    },
  } satisfies RouteSchema;
  app.get('/healthz', { schema }, async (request) => {
    try {
      await database.ping();
      return { status: 'ok' };
    } catch (error) {
      request.log.warn({ err: error }, 'health check: the database does not answer');
      // The API's error shape, like every other error; load balancers look at the status alone.
      throw errors.unavailable(
        'the database does not answer or does not take writes; the server log has the cause',
      );
    }
  });
}
