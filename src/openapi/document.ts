import type { TSchema } from '@sinclair/typebox';
import { CheckResultSchema } from '../connectors/checks/run.js';
import type { ConnectorType } from '../connectors/define.js';
import { connectorTypes } from '../connectors/registry.js';
import {
  ConnectorSchema,
  ConnectorTypeSchema,
  connectorInputSchema,
  ErrorSchema,
  NameSchema,
  serverSetFields,
} from '../connectors/schemas.js';
import { SECRET_PLACEHOLDER } from '../connectors/secrets.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../http/paging.js';
import { AuditEventSchema } from '../http/routes/audit.js';
import { ConnectorTypeInfoSchema } from '../http/routes/connector-types.js';
import { toOpenApi30Document } from './openapi30.js';

/** A TypeBox schema as plain JSON (drops TypeBox's symbol keys). */
function json(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const inputName = (type: ConnectorType) => `Connector${type.schemaName.slice('Params'.length)}Input`;

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: ref('Error') } } };
}

const connectorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Connector') } },
});

const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'entity ID',
  schema: { type: 'string' },
};

const auth = {
  401: errorResponse(
    'Missing, malformed, unknown, revoked or expired API key (with WWW-Authenticate: Bearer)',
  ),
  429: errorResponse(
    'Over the rate limit, when PLUGBOARD_RATE_LIMIT is set (with Retry-After and RateLimit headers)',
  ),
  503: errorResponse(
    'The database is unavailable or the server is overloaded or shutting down (with Retry-After)',
  ),
};

const ifMatchHeader = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'Only write if the connector still has this ETag (or `*`); otherwise 412',
  schema: { type: 'string' },
};
const write = { ...auth, 403: errorResponse('The API key has the read role') };
const body = {
  400: errorResponse('The body is not a valid connector; `errors` lists each problem by JSON pointer'),
  413: errorResponse('The body is larger than 64 KiB'),
  415: errorResponse('The body is not JSON'),
};

const pageParameters = [
  {
    name: 'start-index',
    in: 'query',
    description: 'the starting point (beginning with 0) when paging through a list of entities',
    schema: { type: 'integer', format: 'int32', minimum: 0, default: 0 },
  },
  {
    name: 'max-results',
    in: 'query',
    description: 'the maximum number of results when paging through a list of entities',
    schema: {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: MAX_PAGE_SIZE,
      default: DEFAULT_PAGE_SIZE,
    },
  },
];

const checkResponse = {
  description: 'The result of the check',
  content: { 'application/json': { schema: ref('CheckResult') } },
};

function connectorInputBody() {
  return {
    description: 'the connector; `params` is checked against the params of its `type`',
    required: true,
    content: { 'application/json': { schema: ref('ConnectorInput') } },
  };
}

/**
 * The OpenAPI 3.0.3 document of what this server does: the published ilert Connectors API plus
 * Plugboard's additions, built from the same schemas and type modules that validate requests,
 * their JSON Schema keywords rewritten into 3.0 ones (openapi30.ts).
 */
export function buildOpenApiDocument(options: { createStatus: 200 | 201 }): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    // As in the published spec, Connector refers to the one ConnectorType enum.
    Connector: json({
      ...ConnectorSchema,
      properties: { ...ConnectorSchema.properties, type: ref('ConnectorType') },
    }),
    ConnectorType: json(ConnectorTypeSchema),
    ConnectorName: json(NameSchema),
    Error: json(ErrorSchema),
    AuditEvent: json(AuditEventSchema),
    CheckResult: json(CheckResultSchema),
    ConnectorTypeInfo: json(ConnectorTypeInfoSchema),
    ConnectorInput: {
      description: 'A connector as sent on create and update; which `params` are allowed depends on `type`.',
      oneOf: connectorTypes.map((type) => ref(inputName(type))),
      discriminator: {
        propertyName: 'type',
        mapping: Object.fromEntries(
          connectorTypes.map((type) => [type.id, `#/components/schemas/${inputName(type)}`]),
        ),
      },
    },
  };
  for (const type of connectorTypes) {
    schemas[type.schemaName] = json(type.paramsSchema);
    const input = json(connectorInputSchema(type));
    const properties = input.properties as Record<string, Record<string, unknown>>;
    properties.params = ref(type.schemaName);
    for (const field of serverSetFields) {
      properties[field] = { readOnly: true, description: 'set by the server; ignored' };
    }
    schemas[inputName(type)] = { ...input, title: type.displayName, description: type.description };
  }

  return toOpenApi30Document({
    openapi: '3.0.3',
    info: {
      title: 'Plugboard Connectors API',
      version: '0.1.0',
      description:
        'A self-hosted, ilert-compatible Connectors API. Secret params (marked x-secret) read as ' +
        `"${SECRET_PLACEHOLDER}" for keys with the read role.`,
    },
    servers: [{ url: '/api' }],
    tags: [{ name: 'Connectors' }, { name: 'Audit' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key>' },
      },
      schemas,
    },
    paths: {
      '/connectors': {
        get: {
          tags: ['Connectors'],
          summary: 'Get connectors.',
          description:
            'In creation order; walking the pages while nothing changes visits every connector once.',
          parameters: pageParameters,
          responses: {
            200: {
              description: 'The connectors',
              content: { 'application/json': { schema: { type: 'array', items: ref('Connector') } } },
            },
            400: errorResponse('start-index or max-results is not an integer in range'),
            ...auth,
          },
        },
        post: {
          tags: ['Connectors'],
          summary: 'Create a new connector.',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'Makes a retried create safe: the same key and body from the same API key within 24 h replays the first response (each API key has its own Idempotency-Keys)',
              schema: { type: 'string', minLength: 1, maxLength: 255 },
            },
          ],
          requestBody: connectorInputBody(),
          responses: {
            [options.createStatus]: connectorResponse('The newly created connector'),
            ...body,
            ...write,
            409: errorResponse(
              'A connector with this name exists in the account, or a request with this Idempotency-Key is still running',
            ),
            422: errorResponse('This Idempotency-Key was used with another body'),
          },
        },
      },
      '/connectors/{id}': {
        get: {
          tags: ['Connectors'],
          summary: 'Get a specific connector.',
          parameters: [idParameter],
          responses: {
            200: connectorResponse('The requested connector'),
            ...auth,
            404: errorResponse('No such connector'),
          },
        },
        put: {
          tags: ['Connectors'],
          summary: 'Update the specific connector. (note: type cannot be changed)',
          parameters: [idParameter, ifMatchHeader],
          requestBody: connectorInputBody(),
          responses: {
            200: connectorResponse('The updated connector'),
            ...body,
            ...write,
            404: errorResponse('No such connector'),
            409: errorResponse('Another connector with this name exists in the account'),
            412: errorResponse('If-Match does not match the current ETag'),
          },
        },
        delete: {
          tags: ['Connectors'],
          summary: 'Remove a specific connector.',
          parameters: [idParameter, ifMatchHeader],
          responses: {
            204: { description: 'Empty body delete response' },
            ...write,
            404: errorResponse('No such connector'),
            412: errorResponse('If-Match does not match the current ETag'),
          },
        },
      },
      '/connectors/name/{name}': {
        get: {
          tags: ['Connectors'],
          summary: 'Get a connector by its name.',
          parameters: [
            {
              name: 'name',
              in: 'path',
              required: true,
              description: 'the connector name',
              schema: ref('ConnectorName'),
            },
          ],
          responses: {
            200: connectorResponse('The connector'),
            ...auth,
            404: errorResponse('No such connector'),
          },
        },
      },
      '/connectors/{id}/check': {
        post: {
          tags: ['Connectors'],
          summary:
            "Check a stored connector's credentials against its target; the result is kept as lastCheck.",
          description:
            'A failed check is a result (200 with ok false), not an error. Targets on private, loopback, ' +
            'link-local or metadata addresses are refused unless PLUGBOARD_ALLOWED_TARGETS allows them.',
          parameters: [idParameter],
          responses: { 200: checkResponse, ...write, 404: errorResponse('No such connector') },
        },
      },
      '/connectors/check': {
        post: {
          tags: ['Connectors'],
          summary: 'Check a connector before saving it; nothing is stored.',
          requestBody: connectorInputBody(),
          responses: { 200: checkResponse, ...body, ...write },
        },
      },
      '/connector-types': {
        get: {
          tags: ['Connectors'],
          summary:
            'Every connector type: its params (required, secret, format) and whether it can be checked.',
          responses: {
            200: {
              description: 'The type catalog',
              content: { 'application/json': { schema: { type: 'array', items: ref('ConnectorTypeInfo') } } },
            },
            ...auth,
          },
        },
      },
      '/audit-events': {
        get: {
          tags: ['Audit'],
          summary: 'The audit trail of connector changes in your account, newest first (write keys only).',
          parameters: pageParameters,
          responses: {
            200: {
              description: 'Audit events',
              content: { 'application/json': { schema: { type: 'array', items: ref('AuditEvent') } } },
            },
            400: errorResponse('start-index or max-results is not an integer in range'),
            ...write,
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document.',
          security: [],
          responses: { 200: { description: 'OpenAPI 3 document', content: { 'application/json': {} } } },
        },
      },
      '/healthz': {
        servers: [{ url: '/' }],
        get: {
          summary: 'Health: 200 once the database answers.',
          security: [],
          responses: {
            200: { description: 'The service and its database answer' },
            503: { description: 'The database does not answer' },
          },
        },
      },
    },
  });
}
