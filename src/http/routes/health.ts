import type { FastifyInstance } from 'fastify';
import { errors } from '../../errors.js';
import type { DatabaseHandle } from '../../store/database.js';
import { createHealthProbe } from '../health-probe.js';

/**
 * GET /healthz: 200 once the database takes writes, 503 while it does not. No key needed. A 200
 * is at most a second old (`ageMs`): after a success the database is probed again a second later.
 */
export function healthRoutes(app: FastifyInstance, database: DatabaseHandle): void {
  const probe = createHealthProbe(() => database.ping());
  app.get('/healthz', async (request) => {
    const answer = await probe();
    if (answer.ok) return { status: 'ok', ageMs: answer.ageMs };
    if (answer.fresh) request.log.warn({ err: answer.error }, 'health check: the database does not answer');
    // The API's error shape, like every other error; load balancers look at the status alone.
    throw errors.unavailable(
      'the database does not answer or does not take writes; the server log has the cause',
    );
  });
}
