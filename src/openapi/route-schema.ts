/**
 * What a route declares about itself, in Fastify's `schema` option with the keywords of
 * @fastify/swagger (summary, description, tags, params, querystring, headers, body, response):
 * the OpenAPI document's paths are made from these (paths.ts), and nothing else describes a route.
 *
 * They are documentation: the handlers read and check requests themselves, to give the API's own
 * errors (VALIDATION_FAILED with JSON pointers, INVALID_QUERY…). Fastify is handed only the 2xx
 * response schemas, which it serializes with as before (collect.ts).
 */

/** A JSON Schema: a TypeBox schema, or a plain object where the document wants the published key order. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** An object schema whose properties are parameters (path, query or header). */
export interface ParameterSchema extends JsonSchema {
  readonly properties: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
}

/** One response header the server sends: its name and what it holds (a string). */
export type ResponseHeaders = Readonly<Record<string, string>>;

/** One response: OpenAPI's Response Object, which Fastify also reads (`content` by media type). */
export interface ResponseDoc {
  readonly description: string;
  readonly content?: Readonly<Record<string, { readonly schema?: JsonSchema }>>;
  /** The headers it carries, by name, each with its description (the document only: Fastify ignores them). */
  readonly headers?: ResponseHeaders;
}

export interface RouteSchema {
  /** One line: what the operation does. */
  readonly summary: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  /** Path parameters; a property's `description` describes the parameter. */
  readonly params?: ParameterSchema;
  readonly querystring?: ParameterSchema;
  readonly headers?: ParameterSchema;
  /** The request body; always required where declared. */
  readonly body?: JsonSchema;
  /** Every answer, errors included, by status. */
  readonly response: Readonly<Record<number, ResponseDoc>>;
}

declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: readonly string[];
    /** Not an operation of the API (the 405 answers to other methods): left out of the document. */
    hide?: boolean;
  }
}

const origins = new WeakMap<object, JsonSchema>();

/**
 * `schema` where a parameter or body needs its own description (the schema keeps its own):
 * `name: described(NameSchema, 'the connector name')`. The document refers to `schema` itself.
 */
export function described<T extends JsonSchema>(schema: T, description: string): T {
  const copy = { ...schema, description };
  origins.set(copy, schema);
  return copy;
}

/** The schema a described() copy was made from, or the schema itself. */
export function originOf(schema: JsonSchema): JsonSchema {
  return origins.get(schema) ?? schema;
}

/** `response` with these headers besides any it declares (ETag, Idempotent-Replayed…). */
export function withHeaders(response: ResponseDoc, headers: ResponseHeaders): ResponseDoc {
  return { ...response, headers: { ...response.headers, ...headers } };
}

/** A JSON response with this description and body schema. */
export function jsonResponse(description: string, schema: JsonSchema): ResponseDoc {
  return { description, content: { 'application/json': { schema } } };
}
