import { type TObject, type TSchema, Type } from '@sinclair/typebox';
import type { CheckDefinition } from './checks/types.js';

/**
 * How a param's value is checked beyond "a string": `url` must be an absolute
 * http: or https: URL, `text` is any string.
 */
export type ParamFormat = 'text' | 'url';

export interface ParamSpec {
  readonly format: ParamFormat;
  /** Required params must be present and non-empty. */
  readonly required: boolean;
  /** A credential: masked for read keys, never logged. */
  readonly secret: boolean;
  readonly description: string;
}

export interface ConnectorTypeDeclaration {
  /** The `type` value of the API, e.g. `jira`. */
  readonly id: string;
  readonly displayName: string;
  readonly description: string;
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** How to check a connector's credentials (POST /api/connectors/{id}/check). */
  readonly check: CheckDefinition;
}

/** A connector type: its declaration plus everything derived from it once. */
export interface ConnectorType extends ConnectorTypeDeclaration {
  readonly paramNames: readonly string[];
  readonly requiredParams: readonly string[];
  readonly secretParams: ReadonlySet<string>;
  /** JSON Schema of `params` for this type; used for validation and the OpenAPI document. */
  readonly paramsSchema: TObject;
  /** The OpenAPI component name of `paramsSchema`, e.g. `ParamsMicrosoftTeamsBot`. */
  readonly schemaName: string;
}

function paramSchema(spec: ParamSpec): TSchema {
  const options = {
    description: spec.description,
    ...(spec.secret ? { 'x-secret': true } : {}),
  };
  if (spec.format === 'url') return Type.String({ ...options, format: 'uri' });
  return Type.String(spec.required ? { ...options, minLength: 1 } : options);
}

function pascalCase(id: string): string {
  return id
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** Declares a connector type; validation, masking, the OpenAPI document and the catalog derive from it. */
export function defineConnectorType(declaration: ConnectorTypeDeclaration): ConnectorType {
  const entries = Object.entries(declaration.params);
  const properties: Record<string, TSchema> = {};
  for (const [name, spec] of entries) {
    properties[name] = spec.required ? paramSchema(spec) : Type.Optional(paramSchema(spec));
  }
  const schemaName = `Params${pascalCase(declaration.id)}`;
  return {
    ...declaration,
    paramNames: entries.map(([name]) => name),
    requiredParams: entries.filter(([, spec]) => spec.required).map(([name]) => name),
    secretParams: new Set(entries.filter(([, spec]) => spec.secret).map(([name]) => name)),
    paramsSchema: Type.Object(properties, {
      additionalProperties: false,
      description: `params of a ${declaration.displayName} connector`,
    }),
    schemaName,
  };
}

/** Shorthands for the params that recur across types. */
export const param = {
  url(description: string, options: { secret?: boolean; required?: boolean } = {}): ParamSpec {
    return {
      format: 'url',
      required: options.required ?? true,
      secret: options.secret ?? false,
      description,
    };
  },
  text(description: string, options: { required?: boolean } = {}): ParamSpec {
    return { format: 'text', required: options.required ?? true, secret: false, description };
  },
  secret(description: string, options: { required?: boolean } = {}): ParamSpec {
    return { format: 'text', required: options.required ?? true, secret: true, description };
  },
} as const;
