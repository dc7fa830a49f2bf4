import type { FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../../store/database.js';

/** GET /healthz: 200 once the database answers, 503 while it does not. No key needed. */
export function healthRoutes(app: FastifyInstance, database: DatabaseHandle): void {
  app.get('/healthz', async (request, reply) => {
    try {
      await database.ping();
      return { status: 'ok' };
    } catch (error) {
      request.log.warn({ err: error }, 'health check: the database does not answer');
      return reply
        .code(503)
        .header('Retry-After', '1')
        .send({ status: 'unavailable', message: 'the database does not answer' });
    }
  });
}
