import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { jsonResponse, type RouteSchema } from '../../openapi/route-schema.js';
import type { AuditStore } from '../../store/audit-store.js';
import { principalOf } from '../auth.js';
import { PageQuerySchema, pageErrors, parsePage } from '../paging.js';
import { writeKeyErrors } from '../responses.js';

export const AuditEventSchema = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  action: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')]),
  connectorId: Type.String(),
  connectorName: Type.String({ description: 'the name after the change (for delete: before it)' }),
  connectorType: Type.String(),
  keyId: Type.String({ description: 'the API key that made the change' }),
  keyLabel: Type.String(),
  fields: Type.Array(Type.String(), {
    description: 'names of the fields that changed, e.g. name, params.password; never their values',
  }),
});

/** GET /api/audit-events: the account's trail of changes, newest first; write keys only. */
export function auditRoutes(app: FastifyInstance, audit: AuditStore): void {
  app.get(
    '/api/audit-events',
    {
      config: { writeKeysOnly: true },
      schema: {
        tags: ['Audit'],
        summary: 'The audit trail of connector changes in your account, newest first (write keys only).',
        querystring: PageQuerySchema,
        response: {
          200: jsonResponse('Audit events', Type.Array(AuditEventSchema)),
          ...pageErrors,
          ...writeKeyErrors,
        },
      } satisfies RouteSchema,
    },
    async (request) => {
      const principal = principalOf(request);
      const { offset, limit } = parsePage(request.query);
      return audit.list(principal.accountId, offset, limit);
    },
  );
}
