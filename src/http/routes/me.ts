import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RevealSecrets } from '../../config.js';
import { jsonResponse, type RouteSchema } from '../../openapi/route-schema.js';
import { principalOf } from '../auth.js';
import { keyErrors } from '../responses.js';

export const MeSchema = Type.Object({
  account: Type.String({ description: 'the account the key belongs to' }),
  role: Type.Union([Type.Literal('read'), Type.Literal('write')], {
    description: 'read: GET only, secrets masked; write: everything',
  }),
  secrets: Type.Union([Type.Literal('shown'), Type.Literal('masked')], {
    description: 'whether this key reads secret params in full or as the placeholder `********`',
  }),
  key: Type.Object({
    id: Type.String(),
    label: Type.String(),
    expiresAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'when the key stops working; absent: never' }),
    ),
  }),
});

/** GET /api/me: who the key in the request is (its account and role), for the console's header and scripts. */
export function meRoutes(app: FastifyInstance, revealSecrets: RevealSecrets): void {
  app.get(
    '/api/me',
    {
      schema: {
        tags: ['Keys'],
        summary: 'The API key of this request: its account, role and label.',
        response: { 200: jsonResponse('The key and what it may do', MeSchema), ...keyErrors },
      } satisfies RouteSchema,
    },
    async (request) => {
      const principal = principalOf(request);
      const shown = principal.role === 'write' && revealSecrets === 'write-keys';
      return {
        account: principal.accountName,
        role: principal.role,
        secrets: shown ? 'shown' : 'masked',
        key: {
          id: principal.keyId,
          label: principal.label,
          ...(principal.expiresAt === null ? {} : { expiresAt: principal.expiresAt }),
        },
      };
    },
  );
}
