import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { needsKey } from '../http/auth.js';
import { isRecord } from '../is-record.js';
import type { JsonSchema, RouteSchema } from './route-schema.js';

/** A route as the document shows it. */
export interface DocumentedRoute {
  /** Upper case, as Fastify has it. */
  readonly method: string;
  /** Fastify's syntax: `/api/connectors/:id`. */
  readonly url: string;
  readonly schema: RouteSchema;
  /** Whether it needs `Authorization: Bearer <key>` (the same rule as auth.ts). */
  readonly needsKey: boolean;
}

export class UndocumentedRouteError extends Error {
  constructor(method: string, url: string) {
    super(
      `${method} ${url} declares no schema.summary and schema.response: every route documents itself ` +
        '(src/openapi/route-schema.ts), or says schema.hide when it is no operation of the API',
    );
    this.name = 'UndocumentedRouteError';
  }
}

function isRouteSchema(schema: FastifySchema | undefined): schema is FastifySchema & RouteSchema {
  return (
    typeof schema?.summary === 'string' &&
    typeof schema.response === 'object' &&
    schema.response !== null &&
    Object.keys(schema.response).length > 0
  );
}

/**
 * What Fastify does with a route schema here: it serializes the 2xx bodies with their schemas,
 * as before the routes documented themselves, and validates nothing (the handlers do).
 */
function serializationOnly(schema: RouteSchema): FastifySchema | undefined {
  const response: Record<string, JsonSchema> = {};
  for (const [status, answer] of Object.entries(schema.response)) {
    const body = answer.content?.['application/json']?.schema;
    if (status.startsWith('2') && body) response[status] = forSerialization(body);
  }
  return Object.keys(response).length > 0 ? { response } : undefined;
}

/** An `anyOf` whose every option is a string constant (TypeBox's Union of string Literals). */
function isStringChoice(options: unknown): boolean {
  return (
    Array.isArray(options) &&
    options.length > 0 &&
    options.every(
      (option) =>
        isRecord(option) &&
        typeof option.const === 'string' &&
        (option.type === undefined || option.type === 'string'),
    )
  );
}

/**
 * A body's schema as fast-json-stringify gets it: the same, but where a value is one of several
 * string constants (an `anyOf` of `const`s, as TypeBox writes a Union of Literals: a delivery's
 * `eventType`, `priority`) a plain string, written the same way. For an `anyOf` fast-json-stringify
 * compiles an Ajv validator of the whole schema at the first answer (~70 ms of the first delivery
 * accepted by a server, with every request behind it waiting) and runs it on each such value to
 * pick the branch. The document keeps the schema as declared. Unchanged parts are the same objects.
 * A stored value outside such a union (bad data) is now written as a string where it failed the
 * answer (a 500) before.
 */
export function forSerialization(schema: JsonSchema): JsonSchema {
  return simplified(schema, serializable) as JsonSchema;
}

/**
 * Each schema object as given to fast-json-stringify, for every route: a body schema shared by
 * routes (a GET and its HEAD, a list's item) stays one object, so its serializer is compiled once
 * (serializers.ts shares compiles by schema object).
 */
const serializable = new WeakMap<object, unknown>();

function simplified(node: unknown, done: WeakMap<object, unknown>): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const known = done.get(node);
  if (known !== undefined) return known;
  done.set(node, node); // a cycle, if one ever came, keeps the original
  let result: unknown = node;
  if (Array.isArray(node)) {
    const items = node.map((item) => simplified(item, done));
    if (items.some((item, i) => item !== node[i])) result = items;
  } else if (isStringChoice((node as { anyOf?: unknown }).anyOf)) {
    const { anyOf: _choices, ...rest } = node as Record<string, unknown>;
    result = { ...rest, type: 'string' };
  } else if ('anyOf' in node || 'oneOf' in node || 'allOf' in node) {
    // A union of other schemas is left whole: fast-json-stringify picks its branch by validating
    // the value against each, and a constant made a plain string would match every branch.
  } else {
    let copy: Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(node)) {
      const next = simplified(value, done);
      if (next !== value) {
        copy ??= { ...(node as Record<string, unknown>) };
        copy[key] = next;
      }
    }
    if (copy) result = copy;
  }
  done.set(node, result);
  return result;
}

/**
 * Collects every route registered from now on, for the OpenAPI document. A route without a
 * summary and responses (and not marked `hide`) is refused when it is registered. Install it before
 * the routes; the list is complete once the app is ready.
 */
export function collectRoutes(app: FastifyInstance): readonly DocumentedRoute[] {
  const routes: DocumentedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.schema?.hide) return;
    const methods = [route.method].flat();
    if (!isRouteSchema(route.schema)) throw new UndocumentedRouteError(methods.join(','), route.url);
    const schema = route.schema;
    route.schema = serializationOnly(schema);
    // HEAD is GET without the body (RFC 9110 9.3.2); Fastify adds it to every GET route.
    for (const method of methods.filter((method) => method !== 'HEAD')) {
      routes.push({ method, url: route.url, schema, needsKey: needsKey(route.url, route.config ?? {}) });
    }
  });
  return routes;
}
