import type { TSchema } from '@sinclair/typebox';
import { CheckResultSchema } from '../connectors/checks/run.js';
import type { ConnectorType } from '../connectors/define.js';
import { connectorTypes } from '../connectors/registry.js';
import {
  ConnectorInputSchema,
  ConnectorSchema,
  ConnectorTypeSchema,
  connectorInputSchema,
  ErrorSchema,
  NameSchema,
  serverSetFields,
} from '../connectors/schemas.js';
import { SECRET_PLACEHOLDER } from '../connectors/secrets.js';
import { AuditEventSchema } from '../http/routes/audit.js';
import { ConnectorTypeInfoSchema } from '../http/routes/connector-types.js';
import type { DocumentedRoute } from './collect.js';
import { toOpenApi30Document } from './openapi30.js';
import { openApiPaths, openApiTags } from './paths.js';

/** A TypeBox schema as plain JSON (drops TypeBox's symbol keys). */
function json(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const inputName = (type: ConnectorType) => `Connector${type.schemaName.slice('Params'.length)}Input`;

/** Where every path lives but /healthz (paths.ts gives a route outside it its own server). */
const API_SERVER = '/api';

/**
 * The named schemas of the document, in its order: the schema a route declares and the JSON the
 * document shows under that name. A route declaring one of these gets a $ref to it.
 */
function components(): [TSchema, string, Record<string, unknown>][] {
  const named: [TSchema, string, Record<string, unknown>][] = [
    // As in the published spec, Connector refers to the one ConnectorType enum.
    [
      ConnectorSchema,
      'Connector',
      json({ ...ConnectorSchema, properties: { ...ConnectorSchema.properties, type: ref('ConnectorType') } }),
    ],
    [ConnectorTypeSchema, 'ConnectorType', json(ConnectorTypeSchema)],
    [NameSchema, 'ConnectorName', json(NameSchema)],
    [ErrorSchema, 'Error', json(ErrorSchema)],
    [AuditEventSchema, 'AuditEvent', json(AuditEventSchema)],
    [CheckResultSchema, 'CheckResult', json(CheckResultSchema)],
    [ConnectorTypeInfoSchema, 'ConnectorTypeInfo', json(ConnectorTypeInfoSchema)],
    [
      ConnectorInputSchema,
      'ConnectorInput',
      {
        description: ConnectorInputSchema.description,
        oneOf: connectorTypes.map((type) => ref(inputName(type))),
        discriminator: {
          propertyName: 'type',
          mapping: Object.fromEntries(
            connectorTypes.map((type) => [type.id, `#/components/schemas/${inputName(type)}`]),
          ),
        },
      },
    ],
  ];
  for (const type of connectorTypes) {
    named.push([type.paramsSchema, type.schemaName, json(type.paramsSchema)]);
    const source = connectorInputSchema(type);
    const input = json(source);
    const properties = input.properties as Record<string, Record<string, unknown>>;
    properties.params = ref(type.schemaName);
    for (const field of serverSetFields) {
      properties[field] = { readOnly: true, description: 'set by the server; ignored' };
    }
    named.push([
      source,
      inputName(type),
      { ...input, title: type.displayName, description: type.description },
    ]);
  }
  return named;
}

/**
 * The OpenAPI 3.0.3 document of what this server does: the published ilert Connectors API plus
 * Plugboard's additions: its paths from what the routes declare (collect.ts), its schemas the same
 * schemas and type modules that validate requests, their JSON Schema keywords rewritten into 3.0
 * ones (openapi30.ts).
 */
export function buildOpenApiDocument(routes: readonly DocumentedRoute[]): Record<string, unknown> {
  const named = components();
  const names = new Map<object, string>(named.map(([schema, name]) => [schema, name]));
  return toOpenApi30Document({
    openapi: '3.0.3',
    info: {
      title: 'Plugboard Connectors API',
      version: '0.1.0',
      description:
        'A self-hosted, ilert-compatible Connectors API. Secret params (marked x-secret) read as ' +
        `"${SECRET_PLACEHOLDER}" for keys with the read role.`,
    },
    servers: [{ url: API_SERVER }],
    tags: openApiTags(routes),
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key>' },
      },
      schemas: Object.fromEntries(named.map(([, name, shown]) => [name, shown])),
    },
    paths: openApiPaths(routes, { server: API_SERVER, componentOf: (schema) => names.get(schema) }),
  });
}
