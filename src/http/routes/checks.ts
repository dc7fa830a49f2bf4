import type { FastifyInstance } from 'fastify';
import { CheckResultSchema, runCheck } from '../../connectors/checks/run.js';
import type { CheckContext } from '../../connectors/checks/types.js';
import { findConnectorType } from '../../connectors/registry.js';
import { parseConnectorInput } from '../../connectors/validate.js';
import { errors } from '../../errors.js';
import type { ConnectorStore } from '../../store/connector-store.js';
import { principalOf } from '../auth.js';

const result = { response: { 200: CheckResultSchema } };

/**
 * POST /api/connectors/{id}/check (the stored connector; the result is kept as `lastCheck`) and
 * POST /api/connectors/check (a connector body; nothing is stored). Write keys only, as POSTs.
 */
export function checkRoutes(app: FastifyInstance, store: ConnectorStore, context: CheckContext): void {
  app.post<{ Params: { id: string } }>('/api/connectors/:id/check', { schema: result }, async (request) => {
    const { accountId } = principalOf(request);
    const { id } = request.params;
    const connector = await store.get(accountId, id);
    if (!connector) throw errors.connectorNotFound('id', id);
    const type = findConnectorType(connector.type);
    if (!type) throw errors.internal('stored connector has an unknown type');
    const outcome = await runCheck(type, connector.params, context);
    // False when the connector changed or went away during the check: the result is still returned.
    await store.recordCheck(accountId, id, connector, outcome);
    return outcome;
  });

  app.post('/api/connectors/check', { schema: result }, async (request) => {
    principalOf(request);
    const input = parseConnectorInput(request.body);
    return runCheck(input.type, input.params, context);
  });
}
