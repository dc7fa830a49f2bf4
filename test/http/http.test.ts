import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connectorTypes } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import { jsonErrorOffset } from '../../src/http/json-body.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validBody } from '../helpers.js';

const jira = typeOf('jira');
/** ilert's official clients send these on every request, bodiless ones included. */
const ilertClientHeaders = {
  'content-type': 'application/json',
  'accept-encoding': 'gzip',
  accept: 'application/json',
};

let t: TestContext;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(() => t.close());

function expectErrorShape(response: {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): unknown;
}) {
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json() as ErrorResponse;
  expect(body.status).toBe(response.statusCode);
  expect(body.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(10);
  for (const key of Object.keys(body)) expect(['status', 'code', 'message', 'errors']).toContain(key);
  return body;
}

describe('request bodies', () => {
  it('answers malformed JSON with 400 MALFORMED_JSON, without quoting the body', async () => {
    const response = await t.call('POST', '/api/connectors', {
      body: '{"name": "x", "params": {"password": s3cr3t}}',
    });
    expect(response.statusCode).toBe(400);
    expect(expectErrorShape(response).code).toBe('MALFORMED_JSON');
    expect(response.body).not.toContain('s3cr3t');
  });

  it.each([
    ['{"name": "x", "params": {"password": s3cr3t}}', 'at line 1, column 38 (character 38)'],
    ['{\n  "name": "x",\n  "type": "slack"\n  "params": {}\n}', 'at line 4, column 3 (character 38)'],
    ['{"name": "s3cr3t", }', 'at line 1, column 20 (character 20)'],
    ['[1, 2', 'it ends too early'],
    ['{"name": "s3cr3t\u0001"}', 'at line 1, column 17 (character 17)'],
    ['{"a": 1} s3cr3t', 'at line 1, column 10 (character 10)'],
  ])('says where malformed JSON breaks (%j), without quoting it', async (body, where) => {
    const response = await t.call('POST', '/api/connectors', { body });
    expect(response.statusCode).toBe(400);
    const { code, message } = expectErrorShape(response);
    expect(code).toBe('MALFORMED_JSON');
    expect(message).toMatch(/^the request body is not valid JSON[ :]/);
    expect(message).toContain(where);
    expect(response.body).not.toContain('s3cr3t');
  });

  it('finds the same position as V8 wherever V8 names one', () => {
    const texts = [
      '{"a":1,',
      '{"a" 1}',
      '[1,2',
      '{"a":"x\ny"}',
      '{"a":1}}',
      '"abc',
      '{"a":-}',
      '[1.]',
      '[1e]',
      '{"a":"\\u12G4"}',
    ];
    for (const text of texts) {
      const message = (() => {
        try {
          JSON.parse(text);
          return '';
        } catch (error) {
          return String(error);
        }
      })();
      const position = /at position (\d+)/.exec(message)?.[1];
      const offset = jsonErrorOffset(text);
      if (position !== undefined) expect(offset, text).toBe(Number(position));
      else expect(offset, text).toBe(text.length);
    }
    expect(jsonErrorOffset('{"a": [1, {"b": null}], "c": "\\u00e9"}')).toBe(-1);
  });

  it('refuses prototype-poisoning keys', async () => {
    const response = await t.call('POST', '/api/connectors', {
      body: '{"name":"x","type":"slack","__proto__":{"a":1}}',
    });
    expect(response.statusCode).toBe(400);
    expect(expectErrorShape(response).message).toContain('__proto__');
  });

  it('answers a body over 64 KiB with 413', async () => {
    const body = {
      ...validBody(jira),
      name: 'big',
      params: { ...validBody(jira).params, email: 'e'.repeat(70_000) },
    };
    const response = await t.call('POST', '/api/connectors', { body });
    expect(response.statusCode).toBe(413);
    expect(expectErrorShape(response).code).toBe('PAYLOAD_TOO_LARGE');
    expect(json<unknown[]>(await t.call('GET', '/api/connectors'))).toHaveLength(0);
  });

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['application/xml']])(
    'answers Content-Type %s with 415',
    async (contentType) => {
      const response = await t.call('POST', '/api/connectors', {
        body: JSON.stringify(validBody(jira)),
        headers: { 'content-type': contentType },
      });
      expect(response.statusCode).toBe(415);
      expect(expectErrorShape(response).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    },
  );

  it.each([
    'application/merge-patch+json',
    'application/vnd.api+json',
    'application/problem+json; charset=utf-8',
    'Application/Vnd.Example.Connector.V1+JSON',
  ])('accepts the structured-syntax JSON type %s', async (contentType) => {
    const response = await t.call('POST', '/api/connectors', {
      body: JSON.stringify(validBody(jira)),
      headers: { 'content-type': contentType },
    });
    expect(response.statusCode).toBe(201);
  });

  it.each([
    'application/json+xml',
    'application/vnd.api+jsonx',
    'text/vnd.x+json',
    'application/+json',
    'application/xml+json+x',
  ])('answers %s with 415', async (contentType) => {
    const response = await t.call('POST', '/api/connectors', {
      body: JSON.stringify(validBody(jira)),
      headers: { 'content-type': contentType },
    });
    expect(response.statusCode).toBe(415);
    expect(expectErrorShape(response).message).toMatch(/application\/json/);
  });

  it('answers a body without Content-Type with 415', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/connectors',
      headers: { authorization: `Bearer ${t.keys.write}` },
      payload: Buffer.from(JSON.stringify(validBody(jira))),
    });
    expect(response.statusCode).toBe(415);
  });

  it('accepts application/json with a charset', async () => {
    const response = await t.call('POST', '/api/connectors', {
      body: validBody(jira),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(response.statusCode).toBe(201);
  });

  it.each<[Record<string, string>, RegExp]>([
    [{ 'content-encoding': 'gzip' }, /Content-Encoding gzip is not supported/],
    [{ 'content-type': 'application/json; charset=utf-16' }, /charset utf-16 is not supported/],
  ])('answers a body it cannot read as UTF-8 (%j) with 415 saying why', async (headers, why) => {
    const response = await t.call('POST', '/api/connectors', { body: validBody(jira), headers });
    expect(response.statusCode).toBe(415);
    const { code, message } = expectErrorShape(response);
    expect(code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(message).toMatch(why);
    expect(json<unknown[]>(await t.call('GET', '/api/connectors'))).toHaveLength(0);
  });

  it.each<Record<string, string>>([
    { 'content-encoding': 'identity' },
    { 'content-type': 'application/json; charset=UTF8' },
    { 'content-type': 'application/json; charset=US-ASCII' },
    // A body all ASCII is the same bytes in Latin-1 and UTF-8 (Spring's RestTemplate declares ISO-8859-1).
    { 'content-type': 'application/json; charset="ISO-8859-1"' },
    { 'content-type': 'application/json; charset=' },
  ])('accepts %j', async (headers) => {
    const response = await t.call('POST', '/api/connectors', {
      body: validBody(jira),
      headers: { 'content-type': 'application/json', ...headers },
    });
    expect(response.statusCode).toBe(201);
  });

  it('answers a Latin-1 body that is not all ASCII with 415, and stores nothing', async () => {
    const body = Buffer.from(JSON.stringify(validBody(jira, 'Café')), 'latin1');
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/connectors',
      headers: {
        authorization: `Bearer ${t.keys.write}`,
        'content-type': 'application/json; charset=ISO-8859-1',
      },
      payload: body,
    });
    expect(response.statusCode, response.body).toBe(415);
    expect(expectErrorShape(response).message).toBe(
      'charset iso-8859-1 is not supported for a body that is not all ASCII: send the JSON as UTF-8 (Content-Type: application/json)',
    );
    expect(json<unknown[]>(await t.call('GET', '/api/connectors'))).toHaveLength(0);
  });

  it.each<Record<string, string>>([
    { 'content-type': 'application/json; charset=latin2' },
    { 'content-type': 'application/json', 'content-encoding': 'gzip' },
  ])(
    'takes a request without a body as one without a body whatever its headers say (%j)',
    async (headers) => {
      const { id } = json<Connector>(await t.call('POST', '/api/connectors', { body: validBody(jira) }));
      const response = await t.app.inject({
        method: 'DELETE',
        url: `/api/connectors/${id}`,
        headers: { authorization: `Bearer ${t.keys.write}`, ...headers },
        payload: '',
      });
      expect(response.statusCode, response.body).toBe(204);
    },
  );

  it('refuses a body that is not UTF-8 rather than storing U+FFFD in place of its bytes', async () => {
    const created = json<Connector>(await t.call('POST', '/api/connectors', { body: validBody(jira) }));
    const latin1 = (body: unknown) => Buffer.from(JSON.stringify(body), 'latin1');
    const send = (method: 'POST' | 'PUT', url: string, body: unknown) =>
      t.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${t.keys.write}`, 'content-type': 'application/json' },
        payload: latin1(body),
      });
    const secret = { ...validBody(jira).params, password: 'mot de passe \u00e9t\u00e9' };
    for (const [method, url, body] of [
      ['POST', '/api/connectors', { ...validBody(jira), name: 'other', params: secret }],
      ['PUT', `/api/connectors/${created.id}`, { ...validBody(jira), params: secret }],
    ] as const) {
      const response = await send(method, url, body);
      expect(response.statusCode).toBe(400);
      const { code, message } = expectErrorShape(response);
      expect(code).toBe('MALFORMED_JSON');
      expect(message).toMatch(/not valid UTF-8/);
      expect(response.body).not.toContain('mot de passe');
    }
    expect(json<Connector[]>(await t.call('GET', '/api/connectors'))).toEqual([created]);
  });

  it('answers POST and PUT without a body with 400 saying a body is needed', async () => {
    const created = json<Connector>(await t.call('POST', '/api/connectors', { body: validBody(jira) }));
    for (const [method, url] of [
      ['POST', '/api/connectors'],
      ['PUT', `/api/connectors/${created.id}`],
    ] as const) {
      const response = await t.call(method, url, { headers: { 'content-type': 'application/json' } });
      expect(response.statusCode).toBe(400);
      expect(expectErrorShape(response).message).toMatch(/body is required/);
    }
  });
});

describe("ilert's clients", () => {
  it('can do every operation with their headers and paging query', async () => {
    const create = await t.call('POST', '/api/connectors', {
      body: validBody(jira),
      headers: ilertClientHeaders,
    });
    expect(create.statusCode).toBe(201);
    const { id, name } = json<Connector>(create);
    const list = await t.call('GET', '/api/connectors?max-results=10&start-index=0', {
      headers: ilertClientHeaders,
    });
    expect(list.statusCode).toBe(200);
    expect(json<Connector[]>(list).map((c) => c.id)).toEqual([id]);
    for (const url of [`/api/connectors/${id}`, `/api/connectors/name/${encodeURIComponent(name)}`]) {
      expect((await t.call('GET', url, { headers: ilertClientHeaders })).statusCode).toBe(200);
    }
    const update = await t.call('PUT', `/api/connectors/${id}`, {
      body: validBody(jira, 'renamed'),
      headers: ilertClientHeaders,
    });
    expect(update.statusCode).toBe(200);
    const remove = await t.call('DELETE', `/api/connectors/${id}`, { headers: ilertClientHeaders });
    expect(remove.statusCode).toBe(204);
  });

  it('answers a gzip-accepting client with a body it can read', async () => {
    const response = await t.call('GET', '/healthz', { headers: ilertClientHeaders, key: null });
    const body =
      response.headers['content-encoding'] === 'gzip'
        ? gunzipSync(response.rawPayload).toString()
        : response.body;
    expect(JSON.parse(body)).toEqual({ status: 'ok', ageMs: expect.any(Number) });
  });
});

describe('routing', () => {
  it.each([
    ['PATCH', '/api/connectors/abc', 'DELETE, GET, HEAD, PUT'],
    ['DELETE', '/api/connectors', 'GET, HEAD, POST'],
    ['POST', '/api/connectors/name/x', 'GET, HEAD'],
    ['POST', '/healthz', 'GET, HEAD'],
  ])('answers %s %s with 405 and Allow: %s', async (method, url, allow) => {
    const response = await t.call(method as 'PATCH', url);
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe(allow);
    expect(expectErrorShape(response).code).toBe('METHOD_NOT_ALLOWED');
  });

  it('ignores a trailing slash and answers HEAD like GET without a body', async () => {
    expect((await t.call('GET', '/api/connectors/')).statusCode).toBe(200);
    const head = await t.call('HEAD', '/api/connectors');
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect((await t.call('HEAD', '/api/connectors', { key: null })).statusCode).toBe(401);
  });

  it('answers an unknown path with 404 in the error shape', async () => {
    const response = await t.call('GET', '/api/nothing-here');
    expect(response.statusCode).toBe(404);
    expect(expectErrorShape(response).code).toBe('NOT_FOUND');
  });

  it('GET /healthz answers 200 {"status":"ok"} without a key', async () => {
    const response = await t.call('GET', '/healthz', { key: null });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ status: 'ok', ageMs: expect.any(Number) });
  });

  it('GET /healthz probes the database at most once a second, however many calls come', async () => {
    const ping = vi.spyOn(t.database, 'ping');
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => t.call('GET', '/healthz', { key: null })),
    );
    expect(answers.every((answer) => answer.statusCode === 200)).toBe(true);
    const again = json<{ ageMs: number }>(await t.call('GET', '/healthz', { key: null }));
    expect(again.ageMs).toBeGreaterThanOrEqual(0);
    expect(again.ageMs).toBeLessThan(1_000);
    expect(ping).toHaveBeenCalledTimes(1);
  });

  it('GET /healthz answers 503 once the database is gone', async () => {
    await t.database.close();
    const response = await t.call('GET', '/healthz', { key: null });
    expect(response.statusCode).toBe(503);
  });

  it('answers 503, not 500, when the database is gone', async () => {
    await t.call('GET', '/api/connectors'); // caches the key lookup
    await t.database.close();
    const response = await t.call('GET', '/api/connectors');
    expect(response.statusCode).toBe(503);
    expect(expectErrorShape(response).code).toBe('SERVICE_UNAVAILABLE');
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const given = await t.call('GET', '/healthz', { key: null, headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await t.call('GET', '/healthz', {
      key: null,
      headers: { 'x-request-id': 'bad id\twith tab' },
    });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('GET /api/openapi.json', () => {
  // That it lists every route the server has: test/http/openapi.test.ts, against the router.
  it('describes every type and its secret params', async () => {
    const response = await t.call('GET', '/api/openapi.json', { key: null });
    expect(response.statusCode).toBe(200);
    const doc = json<{
      openapi: string;
      components: { schemas: Record<string, { properties?: Record<string, Record<string, unknown>> }> };
    }>(response);
    expect(doc.openapi).toMatch(/^3\./);
    for (const type of connectorTypes) {
      const schema = doc.components.schemas[type.schemaName];
      expect(Object.keys(schema?.properties ?? {}).sort()).toEqual([...type.paramNames].sort());
      for (const name of type.paramNames) {
        expect(schema?.properties?.[name]?.['x-secret'] === true).toBe(type.secretParams.has(name));
      }
    }
  });

  it('keeps every operation of the published spec', async () => {
    const { readFile } = await import('node:fs/promises');
    const spec = JSON.parse(
      await readFile(new URL('../../spec/ilert-connectors.openapi.json', import.meta.url), 'utf8'),
    );
    const doc = json<{
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: { ConnectorType?: { enum?: unknown[] } } };
    }>(await t.call('GET', '/api/openapi.json', { key: null }));
    for (const [path, operations] of Object.entries<Record<string, unknown>>(spec.paths)) {
      for (const method of Object.keys(operations))
        expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    // The spec's types in its order; a type beyond the spec comes after them.
    const specTypes: unknown[] = spec.components.schemas.ConnectorType.enum;
    expect(doc.components.schemas.ConnectorType?.enum?.slice(0, specTypes.length)).toEqual(specTypes);
  });
});

describe('logs', () => {
  interface LogLine {
    msg: string;
    requestId: string;
    [field: string]: unknown;
  }
  /** The request lines carrying this request id. */
  const requestLines = (id: string) =>
    t.logs
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg === 'request' && line.requestId === id);

  it.each([
    ['GET', '/api/connectors', {}, 200, '/api/connectors', 'acme'],
    ['GET', '/api/connectors', { key: null }, 401, '/api/connectors', null],
    ['GET', '/api/connectors/no-such-id', {}, 404, '/api/connectors/:id', 'acme'],
    ['GET', '/api/nothing-here', {}, 404, null, null],
    ['PATCH', '/api/connectors/abc', {}, 405, '/api/connectors/:id', null],
    ['GET', '/api/connectors?max-results=00', {}, 400, '/api/connectors', 'acme'],
    ['GET', `/api/connectors/${'a'.repeat(5_000)}`, {}, 414, null, null],
    ['GET', '/api/connectors/name/%E0%A4%A', {}, 400, null, null],
    ['GET', '/api/connectors/%ZZ', {}, 400, null, null],
    [
      'POST',
      '/api/connectors',
      { body: '{"name":', headers: { 'x-secret': 'x' } },
      400,
      '/api/connectors',
      'acme',
    ],
    [
      'POST',
      '/api/connectors',
      { body: 'x', headers: { 'content-type': 'text/plain' } },
      415,
      '/api/connectors',
      'acme',
    ],
  ] as const)(
    'write exactly one line for a %s request (case %#)',
    async (method, url, options, status, route, account) => {
      const requestId = `one-line-${status}-${url.length}-${method}`;
      const headers = { ...('headers' in options ? options.headers : {}), 'x-request-id': requestId };
      const response = await t.call(method, url, { ...options, headers });
      expect(response.statusCode).toBe(status);
      expect(response.headers['x-request-id']).toBe(requestId);
      const lines = requestLines(requestId);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ method, status, account, requestId });
      if (route !== null) expect(lines[0]?.route).toBe(route);
      expect(typeof lines[0]?.latencyMs).toBe('number');
      expect(String(lines[0]?.url).length).toBeLessThanOrEqual(1_025);
    },
  );

  it('write one line per request with method, route, status, latency, account and request id', async () => {
    await t.call('GET', '/api/connectors', { headers: { 'x-request-id': 'log-check-1' } });
    const lines = t.logs.map((line) => JSON.parse(line)).filter((line) => line.requestId === 'log-check-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      method: 'GET',
      route: '/api/connectors',
      status: 200,
      account: 'acme',
      requestId: 'log-check-1',
    });
    expect(typeof lines[0].latencyMs).toBe('number');
  });

  it.each([
    ['api_key', 'api_key=KEY', 'api_key=[redacted]'],
    ['apikey', 'apikey=KEY', 'apikey=[redacted]'],
    ['key', 'key=KEY', 'key=[redacted]'],
    ['access_token', 'access_token=KEY', 'access_token=[redacted]'],
    ['token', 'token=KEY', 'token=[redacted]'],
    ['authorization', 'authorization=Bearer%20KEY', 'authorization=[redacted]'],
    ['an unknown name', 'whatever=KEY', 'whatever=[redacted]'],
    ['a percent-encoded name', 'api%5Fkey=KEY', '[redacted]'],
    ['a bare key', 'KEY', '[redacted]'],
    ['a key as a name', 'KEY=1', '[redacted]'],
    ['a repeated name', 'token=x&token=KEY', 'token=[redacted]&token=[redacted]'],
  ])('log no query value but the paging parameters: %s', async (_label, query, logged) => {
    const requestId = `query-${query.length}-${_label.length}`;
    const sent = query.replaceAll('KEY', t.keys.write);
    await t.call('GET', `/api/connectors?start-index=0&${sent}&max-results=5`, {
      headers: { 'x-request-id': requestId },
    });
    const [line] = requestLines(requestId);
    expect(line?.url).toBe(`/api/connectors?start-index=0&${logged}&max-results=5`);
    expect(t.logs.join('\n')).not.toContain(t.keys.write);
    expect(t.logs.join('\n')).not.toContain(encodeURIComponent(t.keys.write));
  });

  it('never carry the key or a secret param, even for rejected requests', async () => {
    const marker = 'SECRET-MARKER-7f3a';
    await t.call('POST', '/api/connectors', {
      body: {
        name: 'logged',
        type: 'jira',
        params: { url: 'https://j.example', email: 'e', password: marker },
      },
    });
    await t.call('POST', '/api/connectors', {
      body: { name: '', type: 'jira', params: { url: marker, email: 'e', password: marker, extra: marker } },
    });
    await t.call('POST', '/api/connectors', { body: `{"name":"${marker}",` });
    await t.call('GET', '/api/connectors', { key: `${marker}-not-a-key` });
    const all = t.logs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(marker);
    expect(all).not.toContain(t.keys.write);
    expect(all.toLowerCase()).not.toContain('bearer');
  });
});

describe('logs of requests Node refuses before Fastify sees them', () => {
  const marker = 'SOCKET-SECRET-5d1c';
  let s: TestContext;
  let port = 0;
  beforeEach(async () => {
    s = await buildTestApp({ limits: { timeouts: { headersMs: 300, requestMs: 800, checkIntervalMs: 50 } } });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const address = s.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    port = address.port;
  });
  afterEach(() => s.close());

  /** Writes `text` on a new connection; resolves with what came back once the server closes it. */
  async function exchange(text: string): Promise<string> {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += String(chunk);
    });
    socket.on('error', () => {});
    socket.write(text);
    const guard = setTimeout(() => socket.destroy(), 5_000);
    await new Promise((resolve) => socket.once('close', resolve));
    clearTimeout(guard);
    return received;
  }

  it('says in a 431 what the limit is and what to do', async () => {
    const received = await exchange(
      `GET /api/connectors HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    expect(received).toMatch(/^HTTP\/1\.1 431 /);
    const body = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as ErrorResponse;
    expect(body.code).toBe('HEADERS_TOO_LARGE');
    expect(body.message).toBe(
      "the request line and headers are over 16 KiB together (Node's limit); send fewer or shorter headers",
    );
  });

  const auth = `Host: localhost\r\nAuthorization: Bearer ${marker}\r\n`;
  it.each([
    [
      'half the headers, then silence',
      `GET /api/connectors HTTP/1.1\r\n${auth}`,
      408,
      'ERR_HTTP_REQUEST_TIMEOUT',
    ],
    [
      'headers over 16 KiB',
      `GET /api/connectors HTTP/1.1\r\n${auth}X-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      431,
    ],
    [
      'a malformed header',
      `POST /api/connectors?a=1 HTTP/1.1\r\n${auth}Bad Header\r\n\r\n{"p":"${marker}"}`,
      400,
    ],
    ['no HTTP at all', `\u0000\u0001 hello ${marker}\r\n\r\n`, 400],
    [
      'a key in the query of a malformed request',
      `GET /api/connectors?api_key=${marker} HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n`,
      400,
    ],
    [
      'half the body, then silence',
      `POST /api/connectors HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer WRITE_KEY\r\n` +
        `Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"p":"${marker}`,
      408,
      'ERR_HTTP_REQUEST_TIMEOUT',
    ],
  ] as const)(
    'write one line for %s, with its status and request id and no header',
    async (_label, text, status, error?: string) => {
      const received = await exchange(text.replace('WRITE_KEY', s.keys.write));
      expect(received).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      const requestId = /\r\nX-Request-Id: ([0-9a-f-]{36})\r\n/i.exec(received)?.[1];
      expect(requestId).toBeDefined();
      const lines = s.logs.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request');
      expect(lines).toEqual([
        expect.objectContaining({ requestId, status, route: null, account: null, latencyMs: null }),
      ]);
      if (error) expect(lines[0].error).toBe(error);
      if (status === 400 && text.startsWith('POST')) {
        expect(lines[0]).toMatchObject({ method: 'POST', url: '/api/connectors?a=[redacted]' });
      }
      expect(s.logs.join('\n')).not.toContain(marker);
      expect(s.logs.join('\n')).not.toContain(s.keys.write);
    },
  );

  it('answers a request once, and logs it once, when the rest of it never comes after the answer', async () => {
    const received = await exchange(
      `POST /api/connectors HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"p":`,
    );
    expect(received).toMatch(/^HTTP\/1\.1 401 /);
    expect(received).not.toMatch(/HTTP\/1\.1 408/);
    const lines = s.logs.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request');
    expect(lines).toEqual([expect.objectContaining({ status: 401, route: '/api/connectors' })]);
  });
});
