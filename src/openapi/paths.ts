import type { DocumentedRoute } from './collect.js';
import { type JsonSchema, originOf, type ParameterSchema, type ResponseDoc } from './route-schema.js';

type JsonObject = Record<string, unknown>;

export interface PathOptions {
  /** The document's server URL: paths under it are written relative to it, others get their own server. */
  readonly server: string;
  /** The name in components.schemas of a schema that has one. */
  readonly componentOf: (schema: object) => string | undefined;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A schema as JSON, each named schema in it (itself included) replaced by a $ref to its component. */
function schemaJson(schema: JsonSchema, options: PathOptions): JsonObject {
  return JSON.parse(
    JSON.stringify(originOf(schema), (_key, value: unknown) => {
      const name = typeof value === 'object' && value !== null ? options.componentOf(value) : undefined;
      return name === undefined ? value : ref(name);
    }),
  ) as JsonObject;
}

/** `/api/connectors/:id` → `/connectors/{id}` under the server `/api`. */
function openApiPath(url: string, server: string): string {
  if (/[*()]/.test(url)) throw new Error(`${url}: only :name parameters can be documented`);
  const path = url.startsWith(`${server}/`) ? url.slice(server.length) : url;
  return path.replace(/:([A-Za-z0-9_-]+)/g, '{$1}');
}

function parameters(
  where: 'path' | 'query' | 'header',
  schema: ParameterSchema | undefined,
  options: PathOptions,
) {
  return Object.entries(schema?.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    // The description is the parameter's; a named schema is referred to, a plain one shown without it.
    const named = originOf(property) !== property || options.componentOf(property) !== undefined;
    return {
      name,
      in: where,
      required: where === 'path' || (schema?.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: schemaJson(named ? property : rest, options),
    };
  });
}

/** The header on every answer (app.ts's first onRequest hook, request-log.ts's requestIdFor). */
const EVERY_ANSWER = {
  'X-Request-Id':
    "The request's id: the X-Request-Id the client sent when it is 1-128 letters, digits or _.:-, else a new UUID; the server's log line of the request has it",
} as const;

function responses(declared: Readonly<Record<number, ResponseDoc>>, options: PathOptions): JsonObject {
  const out: JsonObject = {};
  for (const [status, { description, content, headers }] of Object.entries(declared)) {
    const sent = {
      headers: Object.fromEntries(
        Object.entries({ ...EVERY_ANSWER, ...headers }).map(([name, about]) => [
          name,
          { description: about, schema: { type: 'string' } },
        ]),
      ),
    };
    if (content === undefined) {
      out[status] = { description, ...sent };
      continue;
    }
    const media: JsonObject = {};
    for (const [type, { schema }] of Object.entries(content)) {
      media[type] = schema === undefined ? {} : { schema: schemaJson(schema, options) };
    }
    out[status] = { description, ...sent, content: media };
  }
  return out;
}

function operation(route: DocumentedRoute, options: PathOptions): JsonObject {
  const { summary, description, tags, params, querystring, headers, body, response } = route.schema;
  const all = [
    ...parameters('path', params, options),
    ...parameters('query', querystring, options),
    ...parameters('header', headers, options),
  ];
  const bodyDescription = body?.description;
  return {
    ...(tags ? { tags } : {}),
    summary,
    ...(description ? { description } : {}),
    ...(route.needsKey ? {} : { security: [] }),
    ...(all.length > 0 ? { parameters: all } : {}),
    ...(body
      ? {
          requestBody: {
            ...(typeof bodyDescription === 'string' && originOf(body) !== body
              ? { description: bodyDescription }
              : {}),
            required: true,
            content: { 'application/json': { schema: schemaJson(body, options) } },
          },
        }
      : {}),
    responses: responses(response, options),
  };
}

/** The document's `paths`, from the routes in the order they were registered. */
export function openApiPaths(routes: readonly DocumentedRoute[], options: PathOptions): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const path = openApiPath(route.url, options.server);
    // A route outside the server (/healthz) is served from the root.
    const item =
      paths[path] ?? (route.url.startsWith(`${options.server}/`) ? {} : { servers: [{ url: '/' }] });
    paths[path] = item;
    const method = route.method.toLowerCase();
    if (method in item) throw new Error(`${route.method} ${route.url} is registered twice`);
    item[method] = operation(route, options);
  }
  return paths;
}

/** The tags the routes use, in the order they first appear. */
export function openApiTags(routes: readonly DocumentedRoute[]): { name: string }[] {
  const names = new Set(routes.flatMap((route) => route.schema.tags ?? []));
  return [...names].map((name) => ({ name }));
}
