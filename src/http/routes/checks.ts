import type { FastifyInstance } from 'fastify';
import type { CheckLimiter } from '../../connectors/checks/limit.js';
import { type CheckResult, CheckResultSchema, runCheck } from '../../connectors/checks/run.js';
import type { CheckContext } from '../../connectors/checks/types.js';
import { parseConnectorInput } from '../../connectors/validate.js';
import { errors } from '../../errors.js';
import { jsonResponse, type RouteSchema, withHeaders } from '../../openapi/route-schema.js';
import type { ConnectorStore } from '../../store/connector-store.js';
import { principalOf } from '../auth.js';
import {
  connectorBodyErrors,
  connectorNotFound,
  errorResponse,
  RateLimitHeaders,
  RetryAfterHeader,
  writeKeyErrors,
} from '../responses.js';
import { connectorBody, connectorIdParams } from './connectors.js';

const result = jsonResponse('The result of the check', CheckResultSchema);

/** What the bounds on checks at once add to the usual 429 and 503 (limit.ts). */
const busyErrors = {
  429: withHeaders(
    errorResponse(
      'Over the rate limit, when PLUGBOARD_RATE_LIMIT is set, or as many checks running for this API key ' +
        'as one key may run at once (with Retry-After: when the oldest of them has ended)',
    ),
    RateLimitHeaders,
  ),
  503: withHeaders(
    errorResponse(
      'The database is unavailable, the server is overloaded or shutting down, or as many checks running ' +
        'as the server runs at once (with Retry-After)',
    ),
    RetryAfterHeader,
  ),
} as const;

const checkStored = {
  tags: ['Connectors'],
  summary: "Check a stored connector's credentials against its target; the result is kept as lastCheck.",
  description:
    'A failed check is a result (200 with ok false), not an error. Targets on private, loopback, ' +
    'link-local or metadata addresses are refused unless PLUGBOARD_ALLOWED_TARGETS allows them.',
  params: connectorIdParams,
  response: { 200: result, ...writeKeyErrors, ...busyErrors, ...connectorNotFound },
} satisfies RouteSchema;

const checkBody = {
  tags: ['Connectors'],
  summary: 'Check a connector before saving it; nothing is stored.',
  body: connectorBody,
  response: { 200: result, ...connectorBodyErrors, ...writeKeyErrors, ...busyErrors },
} satisfies RouteSchema;

/**
 * POST /api/connectors/{id}/check (the stored connector; the result is kept as `lastCheck`) and
 * POST /api/connectors/check (a connector body; nothing is stored). Write keys only, as POSTs.
 */
export function checkRoutes(
  app: FastifyInstance,
  store: ConnectorStore,
  context: CheckContext,
  limiter: CheckLimiter,
  /** Told of each check done, by type id and outcome (the metrics). */
  countCheck: (type: string, outcome: CheckResult['status']) => void = () => {},
): void {
  app.post<{ Params: { id: string } }>(
    '/api/connectors/:id/check',
    { schema: checkStored },
    async (request) => {
      const { accountId, keyId } = principalOf(request);
      const { id } = request.params;
      const connector = await store.get(accountId, id);
      if (!connector) throw errors.connectorNotFound('id', id);
      const outcome = await limiter.run(keyId, () => runCheck(connector.type, connector.params, context));
      countCheck(connector.type.id, outcome.status);
      // False when the connector changed or went away during the check: the result is still returned.
      await store.recordCheck(accountId, id, connector, outcome);
      return outcome;
    },
  );

  app.post('/api/connectors/check', { schema: checkBody }, async (request) => {
    const { keyId } = principalOf(request);
    const input = parseConnectorInput(request.body);
    const outcome = await limiter.run(keyId, () => runCheck(input.type, input.params, context));
    countCheck(input.type.id, outcome.status);
    return outcome;
  });
}
