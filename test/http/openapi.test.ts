import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmUpOf } from '../../src/app.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import { CONSOLE_ROUTES } from '../../src/http/routes/console.js';
import { serializersOf } from '../../src/http/serializers.js';
import { buildTestApp, json, type TestContext, validBody } from '../helpers.js';

interface Operation {
  summary?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Record<string, unknown> }[];
  responses: Record<string, unknown>;
}
interface Document {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { properties?: Record<string, Record<string, unknown>>; enum?: unknown[] }>;
  };
}

const seed: Document = JSON.parse(
  readFileSync(new URL('../../spec/ilert-connectors.openapi.json', import.meta.url), 'utf8'),
);

/** Every method and path the router has, read from its printed tree (`├── /api/connectors (GET, POST)`). */
function routerRoutes(app: TestContext['app']): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const segments: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    if (line.trim() === '') continue;
    const match = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) throw new Error(`cannot read the route tree line ${JSON.stringify(line)}`);
    segments.length = (match[1] ?? '').length / 4;
    segments.push(match[2] ?? '');
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) {
      routes.push({ method, url: segments.join('') });
    }
  }
  return routes;
}

describe.each([200, 201] as const)('GET /api/openapi.json with create status %i', (createStatus) => {
  let t: TestContext;
  let doc: Document;
  let raw: Record<string, unknown>;
  beforeAll(async () => {
    t = await buildTestApp({ createStatus });
    const response = await t.call('GET', '/api/openapi.json', { key: null });
    expect(response.statusCode).toBe(200);
    doc = json<Document>(response);
    raw = json<Record<string, unknown>>(response);
  });
  afterAll(() => t.close());

  it('is a valid OpenAPI 3.0.3 document', async () => {
    expect(doc.openapi).toBe('3.0.3');
    const validator = new Validator();
    const result = await validator.validate(raw);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.0');
  });

  it('documents every operation the server has, and nothing it does not have', async () => {
    const served: string[] = [];
    for (const { method, url } of routerRoutes(t.app)) {
      if (method === 'HEAD') continue; // GET without the body, never documented apart
      // The console's pages and files are no operations of the API; the tree prints /assets/* as /*.
      if (CONSOLE_ROUTES.includes(url) || url === '/*') continue;
      // The other methods of a path are routed too, to answer 405 with Allow: they are no operations.
      const ask = () =>
        t.app.inject({
          method: method as 'GET',
          url: url.replace(/:[^/]+/g, 'x'),
          ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, payload: '{}' }),
        });
      let answer = await ask();
      // A loaded machine can make the overload guard answer 503 for a moment: ask again.
      for (let tries = 0; answer.statusCode === 503 && tries < 10; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        answer = await ask();
      }
      if (answer.statusCode === 405) continue;
      served.push(`${method} ${url.replace(/^\/api(?=\/)/, '').replace(/:([^/]+)/g, '{$1}')}`);
    }
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => key !== 'servers')
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(served.length).toBeGreaterThan(8);
    expect(documented.sort()).toEqual(served.sort());
  });

  it('uses no JSON Schema keyword that OpenAPI 3.0 lacks', () => {
    const found: string[] = [];
    const scan = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      for (const [key, value] of Object.entries(node)) {
        // Keys under `properties` are names, not keywords.
        const keyword = !at.endsWith('/properties') && !at.endsWith('/mapping');
        if (keyword && ['const', 'patternProperties', '$id', '$schema', 'examples'].includes(key)) {
          found.push(`${at}/${key}`);
        }
        if (keyword && key === 'type' && typeof value !== 'string') found.push(`${at}/type`);
        scan(value, `${at}/${key}`);
      }
    };
    scan(doc.components.schemas, '#/components/schemas');
    scan(doc.paths, '#/paths');
    expect(found).toEqual([]);
  });

  it('gives each connector type exactly one branch of ConnectorInput, by its type', () => {
    // Ajv reading the schemas as a 3.0 tool does: blind to the keywords 3.0 lacks.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    for (const keyword of ['const', 'patternProperties', 'examples']) ajv.removeKeyword(keyword);
    ajv.addSchema({ components: doc.components }, 'doc');
    const input = ajv.compile({ $ref: 'doc#/components/schemas/ConnectorInput' });
    for (const type of connectorTypes) {
      const matching = connectorTypes.filter((other) => {
        const branch = `Connector${other.schemaName.slice('Params'.length)}Input`;
        return ajv.validate({ $ref: `doc#/components/schemas/${branch}` }, validBody(type));
      });
      expect(matching.map((other) => other.id)).toEqual([type.id]);
      expect(input(validBody(type)), type.id).toBe(true);
      expect(input({ name: 'x', type: type.id, params: { unknown: 'x' } }), type.id).toBe(false);
    }
    expect(input({ name: 'x', type: 'slack' })).toBe(true);
    expect(input({ name: 'x', type: 'no-such-type' })).toBe(false);
  });

  it('declares every ETag and Idempotent-Replayed header the server sends on the connector routes (and Idempotent-Replayed on a queued delivery)', async () => {
    /** The headers the document declares for this answer, lower-cased. */
    const declared = (path: string, method: string, status: number) => {
      const answer = doc.paths[path]?.[method]?.responses[String(status)] as
        | { headers?: Record<string, { schema?: unknown }> }
        | undefined;
      expect(answer, `${method} ${path} ${status}`).toBeDefined();
      for (const [name, header] of Object.entries(answer?.headers ?? {}))
        expect(header.schema, `${method} ${path} ${status} ${name}`).toEqual({ type: 'string' });
      return Object.keys(answer?.headers ?? {}).map((name) => name.toLowerCase());
    };
    const sent: [string, string, LightMyRequestResponse][] = [];
    const body = { name: 'headers', type: 'slack', params: {} };
    const headers = { 'idempotency-key': 'openapi-headers' };
    const created = await t.call('POST', '/api/connectors', { body, headers });
    sent.push(['/connectors', 'post', created]);
    sent.push(['/connectors', 'post', await t.call('POST', '/api/connectors', { body, headers })]);
    const { id } = json<{ id: string }>(created);
    sent.push(['/connectors/{id}', 'get', await t.call('GET', `/api/connectors/${id}`)]);
    sent.push(['/connectors/name/{name}', 'get', await t.call('GET', '/api/connectors/name/headers')]);
    sent.push(['/connectors/{id}', 'put', await t.call('PUT', `/api/connectors/${id}`, { body })]);
    const stale = { 'if-match': '"stale"' };
    sent.push([
      '/connectors/{id}',
      'put',
      await t.call('PUT', `/api/connectors/${id}`, { body, headers: stale }),
    ]);
    sent.push([
      '/connectors/{id}',
      'delete',
      await t.call('DELETE', `/api/connectors/${id}`, { headers: stale }),
    ]);
    expect(sent.map(([, , response]) => response.statusCode)).toEqual([
      createStatus,
      createStatus,
      200,
      200,
      200,
      412,
      412,
    ]);
    expect(sent[1]?.[2].headers['idempotent-replayed']).toBe('true');
    for (const [path, method, response] of sent) {
      const documented = declared(path, method, response.statusCode);
      for (const name of ['etag', 'idempotent-replayed']) {
        if (response.headers[name] !== undefined)
          expect(documented, `${method} ${path} ${response.statusCode}`).toContain(name);
      }
    }
    expect(declared('/connectors/{id}/deliveries', 'post', 202)).toContain('idempotent-replayed');
  });

  it('declares WWW-Authenticate on every 401, Retry-After on every 429 and 503 and on the 409 of an Idempotency-Key in use (a 401 is checked as sent here; other tests check the 429s and 503s are sent)', async () => {
    const refused = await t.call('GET', '/api/connectors', { key: null });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer /);
    const wanted: Record<string, string> = {
      401: 'WWW-Authenticate',
      429: 'Retry-After',
      503: 'Retry-After',
    };
    let seen = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (typeof operation !== 'object' || !('responses' in operation)) continue; // a path's servers
        for (const [status, header] of Object.entries(wanted)) {
          const answer = operation.responses[status] as { headers?: Record<string, unknown> } | undefined;
          if (answer === undefined) continue;
          seen++;
          expect(Object.keys(answer.headers ?? {}), `${method} ${path} ${status}`).toContain(header);
        }
      }
    }
    expect(seen).toBeGreaterThan(40);
    // The 409 IDEMPOTENCY_KEY_IN_USE sends Retry-After (idempotency.ts): declared where it can come.
    for (const path of ['/connectors', '/connectors/{id}/deliveries']) {
      const answer = doc.paths[path]?.post?.responses['409'] as
        | { headers?: Record<string, unknown> }
        | undefined;
      expect(Object.keys(answer?.headers ?? {}), `post ${path} 409`).toContain('Retry-After');
    }
  });

  it('declares X-Request-Id on every answer of every operation, and answers carry it', async () => {
    let seen = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (typeof operation !== 'object' || !('responses' in operation)) continue; // a path's servers
        for (const [status, answer] of Object.entries(operation.responses)) {
          seen++;
          const headers = (answer as { headers?: Record<string, unknown> }).headers ?? {};
          expect(Object.keys(headers), `${method} ${path} ${status}`).toContain('X-Request-Id');
        }
      }
    }
    expect(seen).toBeGreaterThan(100);
    const created = await t.call('POST', '/api/connectors', {
      body: { name: 'request-id', type: 'slack', params: {} },
    });
    const { id } = json<{ id: string }>(created);
    const answers = [
      created,
      await t.call('GET', `/api/connectors/${id}`),
      await t.call('GET', '/api/connectors'),
      await t.call('GET', '/api/connectors/no-such-id'),
      await t.call('GET', '/api/connectors', { key: null }),
      await t.call('POST', '/api/connectors', { body: { name: 'x' } }),
      await t.call('DELETE', `/api/connectors/${id}`, { headers: { 'x-request-id': 'given-1' } }),
    ];
    expect(answers.map((answer) => answer.statusCode)).toEqual([createStatus, 200, 200, 404, 401, 400, 204]);
    for (const answer of answers) expect(answer.headers['x-request-id']).toMatch(/^[\w.:-]{1,128}$/);
    expect(answers[6]?.headers['x-request-id']).toBe('given-1');
  });

  it("documents /healthz's 200 as it is served, ageMs included", async () => {
    const documented = doc.paths['/healthz']?.get?.responses['200'] as
      | { content?: { 'application/json'?: { schema?: { properties?: Record<string, unknown> } } } }
      | undefined;
    const schema = documented?.content?.['application/json']?.schema;
    expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(['ageMs', 'status']);
    const served = json(await t.call('GET', '/healthz', { key: null }));
    const ajv = new Ajv({ strict: false, allErrors: true });
    expect(ajv.validate(schema ?? {}, served), JSON.stringify(ajv.errors)).toBe(true);
  });

  it('keeps what the published spec says: operations, parameters, success statuses, schemas', () => {
    expect(doc.servers).toContainEqual({ url: '/api' });
    for (const [path, operations] of Object.entries(seed.paths)) {
      for (const [method, published] of Object.entries(operations)) {
        const ours = doc.paths[path]?.[method];
        expect(ours, `${method} ${path}`).toBeDefined();
        expect(ours?.summary, `${method} ${path}`).toBe(published.summary);
        expect(ours?.tags).toEqual(expect.arrayContaining(published.tags ?? []));
        for (const parameter of published.parameters ?? []) {
          const match = ours?.parameters?.find((p) => p.name === parameter.name && p.in === parameter.in);
          expect(match, `${method} ${path} ${parameter.name}`).toBeDefined();
          expect(match?.required ?? false).toBe(parameter.required ?? false);
          expect(match?.schema).toMatchObject(parameter.schema ?? {});
        }
        for (const status of Object.keys(published.responses)) {
          const expected = method === 'post' && path === '/connectors' ? String(createStatus) : status;
          expect(ours?.responses[expected], `${method} ${path} ${expected}`).toBeDefined();
        }
      }
    }
    const { schemas } = doc.components;
    // The spec's types in its order, then any beyond it: every registered type.
    const specTypes = seed.components.schemas.ConnectorType?.enum ?? [];
    expect(schemas.ConnectorType?.enum?.slice(0, specTypes.length)).toEqual(specTypes);
    expect(schemas.ConnectorType?.enum).toEqual(connectorTypes.map((type) => type.id));
    const published = seed.components.schemas.Connector?.properties ?? {};
    const ours = schemas.Connector?.properties ?? {};
    for (const [name, schema] of Object.entries(published)) {
      if (name === 'params') continue; // per type instead: ConnectorInput (connector-types.md says why)
      expect(ours[name], `Connector.${name}`).toMatchObject(schema);
    }
  });
});

// Once listening, the app compiles what first requests would (src/http/warm-up.ts), after its delay.
describe('the warm-up after listening', () => {
  it('compiles every response serializer, and does not run for an app that only injects', async () => {
    const injected = await buildTestApp();
    const listening = await buildTestApp();
    try {
      await listening.app.listen({ port: 0, host: '127.0.0.1' });
      const warming = warmUpOf.get(listening.app);
      expect(warming).toBeDefined();
      await warming?.done;
      expect(serializersOf.get(listening.app)?.compileAll()).toBe(0);
      expect(warmUpOf.get(injected.app)).toBeUndefined();
      expect(serializersOf.get(injected.app)?.compileAll()).toBeGreaterThan(20);
    } finally {
      await listening.close();
      await injected.close();
    }
  });
});

// The server compiles each response serializer when it first answers with it (src/http/serializers.ts),
// not at start: this is the start-up check it no longer makes, for every route and status.
describe('the response serializers, compiled lazily', () => {
  it('all compile, and compiling them changes no schema (the document stays the same)', async () => {
    const first = await buildTestApp();
    try {
      const before = (await first.call('GET', '/api/openapi.json', { key: null })).body;
      const serializers = serializersOf.get(first.app);
      expect(serializers?.compileAll()).toBeGreaterThan(20);
      expect(serializers?.compileAll()).toBe(0);
      // A second app reads the same schema objects, now compiled once: its document is the same.
      const second = await buildTestApp();
      try {
        expect((await second.call('GET', '/api/openapi.json', { key: null })).body).toBe(before);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });
});
