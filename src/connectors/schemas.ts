import { type Static, type TObject, Type } from '@sinclair/typebox';
import { CheckResultSchema } from './checks/run.js';
import type { ConnectorType } from './define.js';
import { connectorTypeIds, connectorTypes } from './registry.js';

export const NameSchema = Type.String({
  minLength: 1,
  maxLength: 255,
  description: 'Unique within the account; 1 to 255 characters',
});

export const ConnectorTypeSchema = Type.Unsafe<string>({
  type: 'string',
  enum: [...connectorTypeIds],
  description: 'The kind of connector; it cannot be changed after creation',
});

const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC, millisecond precision' });

/** Fields of a stored connector that a request body may carry but that the server sets. */
export const serverSetFields = ['id', 'createdAt', 'updatedAt', 'lastCheck'] as const;

const ignoredOnInput = Object.fromEntries(
  serverSetFields.map((field) => [
    field,
    Type.Optional(Type.Unknown({ description: 'set by the server; ignored' })),
  ]),
);

/** The request body of POST and PUT for one connector type. */
export function connectorInputSchema(type: ConnectorType): TObject {
  const params = type.paramsSchema;
  return Type.Object(
    {
      type: Type.Literal(type.id),
      name: NameSchema,
      params: type.requiredParams.length > 0 ? params : Type.Optional(params),
      ...ignoredOnInput,
    },
    { additionalProperties: false },
  );
}

/** The request body of POST and PUT: one type's body (connectorInputSchema), chosen by `type`. */
export const ConnectorInputSchema = Type.Union(connectorTypes.map(connectorInputSchema), {
  description: 'A connector as sent on create and update; which `params` are allowed depends on `type`.',
});

/** The request body before its type is known: used to report what is wrong when `type` is. */
export const AnyConnectorInputSchema = Type.Object(
  {
    type: ConnectorTypeSchema,
    name: NameSchema,
    params: Type.Optional(Type.Object({}, { additionalProperties: true })),
    ...ignoredOnInput,
  },
  { additionalProperties: false },
);

/** What every valid body has in common, whatever its type: the static type of a validated body. */
const ValidConnectorBodySchema = Type.Object({
  type: Type.String(),
  name: Type.String(),
  params: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type ValidConnectorBody = Static<typeof ValidConnectorBodySchema>;

/** A connector as the API returns it. */
export const ConnectorSchema = Type.Object({
  id: Type.String({ description: 'Opaque, unique, URL-safe; set by the server' }),
  type: ConnectorTypeSchema,
  name: NameSchema,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  params: Type.Record(Type.String(), Type.String(), {
    description: "The type's params; secret ones are masked for read keys",
  }),
  lastCheck: Type.Optional(
    Type.Object(CheckResultSchema.properties, { description: 'the last credential check, if there was one' }),
  ),
});
export type Connector = Static<typeof ConnectorSchema>;

export const ConnectorListSchema = Type.Array(ConnectorSchema);

export const ErrorSchema = Type.Object({
  status: Type.Integer({ description: 'The HTTP status' }),
  code: Type.String({ description: 'Stable UPPER_SNAKE error code' }),
  message: Type.String({ description: 'What is wrong and how to fix it' }),
  errors: Type.Optional(
    Type.Array(
      Type.Object({
        field: Type.String({ description: 'JSON pointer into the body, or the query parameter' }),
        message: Type.String(),
      }),
    ),
  ),
});
