import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ConnectorType } from '../../connectors/define.js';
import { connectorTypes } from '../../connectors/registry.js';
import { jsonResponse, type RouteSchema } from '../../openapi/route-schema.js';
import { keyErrors } from '../responses.js';

export const ConnectorTypeInfoSchema = Type.Object({
  id: Type.String({ description: 'the `type` value of a connector' }),
  displayName: Type.String(),
  description: Type.String(),
  params: Type.Array(
    Type.Object({
      name: Type.String(),
      required: Type.Boolean(),
      secret: Type.Boolean({ description: 'sealed at rest, masked for read keys, never logged' }),
      format: Type.Union([Type.Literal('text'), Type.Literal('url')], {
        description: 'url: an absolute http: or https: URL',
      }),
      description: Type.String(),
    }),
  ),
  checkable: Type.Boolean({ description: 'whether POST /connectors/{id}/check can ask the target system' }),
  check: Type.String({ description: 'what the check does, or why the type cannot be checked' }),
});
type ConnectorTypeInfo = Static<typeof ConnectorTypeInfoSchema>;

export function describeType(type: ConnectorType): ConnectorTypeInfo {
  return {
    id: type.id,
    displayName: type.displayName,
    description: type.description,
    params: Object.entries(type.params).map(([name, spec]) => ({
      name,
      required: spec.required,
      secret: spec.secret,
      format: spec.format,
      description: spec.description,
    })),
    checkable: type.check.kind === 'online',
    check: type.check.kind === 'online' ? type.check.description : type.check.reason,
  };
}

/** GET /api/connector-types: the catalog, derived from the type modules like everything else. */
export function connectorTypeRoutes(app: FastifyInstance): void {
  const catalog = connectorTypes.map(describeType);
  app.get(
    '/api/connector-types',
    {
      schema: {
        tags: ['Connectors'],
        summary: 'Every connector type: its params (required, secret, format) and whether it can be checked.',
        response: {
          200: jsonResponse('The type catalog', Type.Array(ConnectorTypeInfoSchema)),
          ...keyErrors,
        },
      } satisfies RouteSchema,
    },
    async () => catalog,
  );
}
