import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { testBackend } from '../backend.js';
import { buildTestApp, json, rawRequest, type TestContext, typeOf, validBody } from '../helpers.js';

// GET /api/connectors/{id} is answered before Fastify in its plain case (src/http/fast-reads.ts):
// over a socket, not app.inject (which calls Fastify's handler directly). These tests hold it to
// the route's answers and log lines, byte for byte, and check that everything else still goes to
// Fastify. On PostgreSQL only connectors its store keeps (once its LISTEN connection is up) are
// answered at once, no list: the answers must be the same all the same.

const jira = typeOf('jira');
let t: TestContext;
let port = 0;
/** Requests that went through Fastify (each makes a child logger with its request id). */
let viaFastify = 0;

beforeEach(async () => {
  t = await buildTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  port = address.port;
  viaFastify = 0;
  const child = t.app.log.child.bind(t.app.log);
  vi.spyOn(t.app.log, 'child').mockImplementation((bindings, options) => {
    if ('requestId' in bindings) viaFastify++;
    return child(bindings, options);
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await t.close();
});

/** One request over its own connection; the raw answer (the Date header left out) and its body. */
async function exchange(
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  body = '',
): Promise<{ raw: string; status: number; body: string }> {
  const received = await rawRequest(port, path, headers, method, body);
  const raw = received.replace(/\r\ndate: [^\r]*/i, '');
  const status = Number(raw.slice(9, 12));
  return { raw, status, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
}

/** The request lines logged since `from`, without what differs between two runs of one request. */
function requestLines(from: number): Record<string, unknown>[] {
  return t.logs
    .slice(from)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === 'request')
    .map(({ time: _time, latencyMs, ...rest }) => ({ ...rest, latencyMs: typeof latencyMs }));
}

const bearer = (key: string) => `Bearer ${key}`;

/** A connector's view as the routes show it (what a list page is an array of). */
function isConnectorView(value: unknown): boolean {
  return (
    typeof value === 'object' && value !== null && 'id' in value && 'params' in value && 'updatedAt' in value
  );
}

async function created(name: string): Promise<Connector> {
  return json<Connector>(await t.call('POST', '/api/connectors', { body: validBody(jira, name) }));
}

describe('a GET of one connector answered before Fastify', () => {
  it.each([
    ['a write key (secrets shown)', 'write'],
    ['a read key (secrets masked)', 'read'],
  ] as const)('is the route’s answer and log line, byte for byte, for %s', async (_, role) => {
    const { id } = await created(`fast ${role}`);
    const headers = { Authorization: bearer(t.keys[role]), 'X-Request-Id': 'same-id-1' };
    const before = viaFastify;
    const answers = [];
    const lines = [];
    for (let i = 0; i < 4; i++) {
      const from = t.logs.length;
      answers.push(await exchange(`/api/connectors/${id}`, headers));
      lines.push(requestLines(from));
    }
    // Only a key's first use goes through the route (the create compiled its serializer, and used
    // the write key). On PostgreSQL the first read goes through the route (nothing is kept before a
    // read, and it starts the LISTEN connection), and so does every read until the server listens
    // to PostgreSQL's notices and keeps the connector (connector-cache.ts): a matter of timing.
    if (testBackend === 'sqlite') expect(viaFastify - before).toBe(role === 'write' ? 0 : 1);
    else {
      expect(viaFastify - before).toBeGreaterThanOrEqual(1);
      expect(viaFastify - before).toBeLessThanOrEqual(4);
    }
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.raw).toBe(answers[0]?.raw);
    }
    for (const line of lines) expect(line).toEqual(lines[0]);
    expect(lines[0]).toEqual([
      {
        level: 30,
        pid: process.pid,
        hostname: expect.any(String),
        requestId: 'same-id-1',
        method: 'GET',
        route: '/api/connectors/:id',
        url: `/api/connectors/${id}`,
        status: 200,
        latencyMs: 'number',
        account: 'acme',
        msg: 'request',
      },
    ]);
    // The same text as app.inject gets from the route.
    const injected = await t.call('GET', `/api/connectors/${id}`, { key: t.keys[role] });
    expect(answers[3]?.body).toBe(injected.body);
    expect(answers[3]?.raw).toContain(`etag: ${String(injected.headers.etag)}\r\n`);
  });

  it('shows secrets masked to a read key after a write key read them in full', async () => {
    const { id } = await created('two views');
    for (let i = 0; i < 3; i++) {
      await exchange(`/api/connectors/${id}`, { Authorization: bearer(t.keys.write) });
      await exchange(`/api/connectors/${id}`, { Authorization: bearer(t.keys.read) });
    }
    const asWriter = await exchange(`/api/connectors/${id}`, { Authorization: bearer(t.keys.write) });
    const asReader = await exchange(`/api/connectors/${id}`, { Authorization: bearer(t.keys.read) });
    expect(asWriter.body).toBe((await t.call('GET', `/api/connectors/${id}`)).body);
    expect(asReader.body).toBe((await t.call('GET', `/api/connectors/${id}`, { key: t.keys.read })).body);
    expect(asReader.body).not.toBe(asWriter.body);
  });

  it('gives each request its own id when none is sent, in the answer and the log line', async () => {
    const { id } = await created('fresh ids');
    const from = t.logs.length;
    const ids = [];
    for (let i = 0; i < 4; i++) {
      const { raw } = await exchange(`/api/connectors/${id}`, { Authorization: bearer(t.keys.write) });
      ids.push(/\r\nx-request-id: ([^\r]+)/.exec(raw)?.[1]);
    }
    expect(new Set(ids).size).toBe(4);
    for (const requestId of ids) expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestLines(from).map((line) => line.requestId)).toEqual(ids);
  });

  it('shows a change at once: an update, then a delete', async () => {
    const { id } = await created('changing');
    const headers = { Authorization: bearer(t.keys.write) };
    for (let i = 0; i < 3; i++) await exchange(`/api/connectors/${id}`, headers);
    const update = await t.call('PUT', `/api/connectors/${id}`, { body: validBody(jira, 'changed') });
    expect(update.statusCode).toBe(200);
    const after = await exchange(`/api/connectors/${id}`, headers);
    expect(JSON.parse(after.body)).toMatchObject({ name: 'changed' });
    expect(after.raw).toContain(`etag: ${String(update.headers.etag)}\r\n`);
    expect((await t.call('DELETE', `/api/connectors/${id}`)).statusCode).toBe(204);
    const gone = await exchange(`/api/connectors/${id}`, headers);
    expect(gone.status).toBe(404);
  });

  it('leaves every other case to Fastify, which answers as it always did', async () => {
    const { id } = await created('others');
    const ours = { Authorization: bearer(t.keys.write) };
    for (let i = 0; i < 3; i++) await exchange(`/api/connectors/${id}`, ours);
    const cases: [string, Record<string, string>, number, string?, string?][] = [
      // another account's key: tenant isolation, 404 as for an id that does not exist
      [`/api/connectors/${id}`, { Authorization: bearer(t.keys.otherWrite) }, 404],
      [`/api/connectors/${id}`, { Authorization: bearer(t.keys.otherRead) }, 404],
      ['/api/connectors/NoSuchConnectorId00000', ours, 404],
      [`/api/connectors/${id}`, {}, 401],
      [`/api/connectors/${id}`, { Authorization: 'Bearer not-a-key-at-all-0000' }, 401],
      [`/api/connectors/${id}`, { Authorization: 'Basic abc' }, 401],
      [`/api/connectors/${id}/`, ours, 200],
      [`/api/connectors/${id}?x=1`, ours, 200],
      [`/%61pi/connectors/${id}`, ours, 200],
      [`/api/connectors/${id}`, ours, 200, 'HEAD'],
      [`/api/connectors/${id}`, { ...ours, 'Content-Length': '2' }, 200, 'GET', '{}'],
    ];
    for (const [path, headers, status, method, body] of cases) {
      const before = viaFastify;
      const answer = await exchange(path, headers, method, body);
      expect({ path, headers, status: answer.status }).toEqual({ path, headers, status });
      expect({ path, headers, viaFastify: viaFastify - before }).toEqual({ path, headers, viaFastify: 1 });
    }
  });
});

describe('a GET of a page of connectors answered before Fastify', () => {
  it.each([
    ['/api/connectors', 'write'],
    ['/api/connectors?max-results=2', 'read'],
    ['/api/connectors?start-index=1&max-results=2', 'write'],
    ['/api/connectors?max-results=3&start-index=0', 'read'],
  ] as const)('is the route’s answer and log line, byte for byte: %s with a %s key', async (path, role) => {
    for (let i = 0; i < 3; i++) await created(`page ${i}`);
    const headers = { Authorization: bearer(t.keys[role]), 'X-Request-Id': 'page-id-1' };
    const before = viaFastify;
    const answers = [];
    const lines = [];
    for (let i = 0; i < 4; i++) {
      const from = t.logs.length;
      answers.push(await exchange(path, headers));
      lines.push(requestLines(from));
    }
    // Only a key's first use goes through the route (the creates compiled its serializer, and used
    // the write key); on PostgreSQL, every read.
    expect(viaFastify - before).toBe(testBackend === 'sqlite' ? (role === 'write' ? 0 : 1) : 4);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.raw).toBe(answers[0]?.raw);
    }
    for (const line of lines) expect(line).toEqual(lines[0]);
    expect(lines[0]).toMatchObject([{ requestId: 'page-id-1', route: '/api/connectors', url: path }]);
    const injected = await t.call('GET', path, { key: t.keys[role] });
    expect(answers[3]?.body).toBe(injected.body);
  });

  it('shows a change at once, and each account its own connectors', async () => {
    const { id } = await created('listed');
    await t.call('POST', '/api/connectors', {
      key: t.keys.otherWrite,
      body: validBody(jira, 'theirs'),
    });
    const ours = { Authorization: bearer(t.keys.write) };
    for (let i = 0; i < 3; i++) await exchange('/api/connectors', ours);
    const before = viaFastify;
    const page = await exchange('/api/connectors', ours);
    expect(viaFastify - before).toBe(testBackend === 'sqlite' ? 0 : 1);
    expect((JSON.parse(page.body) as Connector[]).map((c) => c.name)).toEqual(['listed']);
    await t.call('PUT', `/api/connectors/${id}`, { body: validBody(jira, 'renamed') });
    const renamed = await exchange('/api/connectors', ours);
    expect((JSON.parse(renamed.body) as Connector[]).map((c) => c.name)).toEqual(['renamed']);
    await created('second');
    const grown = await exchange('/api/connectors', ours);
    expect((JSON.parse(grown.body) as Connector[]).map((c) => c.name)).toEqual(['renamed', 'second']);
    const theirs = await exchange('/api/connectors', { Authorization: bearer(t.keys.otherRead) });
    expect((JSON.parse(theirs.body) as Connector[]).map((c) => c.name)).toEqual(['theirs']);
  });

  it('gives each key its view of a page kept while nothing is written, and the new page after a write', async () => {
    for (let i = 0; i < 3; i++) await created(`kept ${i}`);
    const path = '/api/connectors?max-results=2';
    const asWriter = { Authorization: bearer(t.keys.write) };
    const asReader = { Authorization: bearer(t.keys.read) };
    const expected = async () => ({
      write: (await t.call('GET', path)).body,
      read: (await t.call('GET', path, { key: t.keys.read })).body,
    });
    let views = await expected();
    expect(views.read).not.toBe(views.write);
    for (let i = 0; i < 4; i++) {
      expect((await exchange(path, asWriter)).body).toBe(views.write);
      expect((await exchange(path, asReader)).body).toBe(views.read);
    }
    const [first] = JSON.parse(views.write) as Connector[];
    await t.call('PUT', `/api/connectors/${String(first?.id)}`, { body: validBody(jira, 'kept, renamed') });
    views = await expected();
    expect(views.write).toContain('kept, renamed');
    for (let i = 0; i < 2; i++) {
      expect((await exchange(path, asReader)).body).toBe(views.read);
      expect((await exchange(path, asWriter)).body).toBe(views.write);
    }
  });

  it('walks page after page as the route pages (the next page made ahead), each key its view, a write seen at once', async () => {
    for (let i = 0; i < 7; i++) await created(`walked ${i}`);
    const pageAt = (start: number) => `/api/connectors?start-index=${start}&max-results=2`;
    const routeBody = async (start: number, role: 'write' | 'read') =>
      (await t.call('GET', pageAt(start), { key: t.keys[role] })).body;
    /** A page over a socket, after which the read-ahead (a setImmediate) has run. */
    const walked = async (start: number, role: 'write' | 'read') => {
      const answer = await exchange(pageAt(start), { Authorization: bearer(t.keys[role]) });
      await new Promise((resolve) => setImmediate(resolve));
      expect(answer.status).toBe(200);
      return answer.body;
    };
    for (const role of ['write', 'read'] as const) {
      for (let start = 0; start <= 8; start += 2)
        expect(await walked(start, role)).toBe(await routeBody(start, role));
    }
    // The writer's page at 4 is made ahead when it asks for 2; the reader asks for 4 first.
    await walked(0, 'write');
    await walked(2, 'write');
    expect(await walked(4, 'read')).toBe(await routeBody(4, 'read'));
    expect(await walked(4, 'write')).toBe(await routeBody(4, 'write'));
    // A write between two pages of a walk: the page made ahead is not the one answered.
    await walked(0, 'write');
    await walked(2, 'write');
    const [fifth] = JSON.parse(await routeBody(4, 'write')) as Connector[];
    await t.call('PUT', `/api/connectors/${String(fifth?.id)}`, {
      body: validBody(jira, 'renamed mid-walk'),
    });
    const after = await walked(4, 'write');
    expect(after).toContain('renamed mid-walk');
    expect(after).toBe(await routeBody(4, 'write'));
    // A connector created between pages moves nothing before it; the last page grows.
    await walked(4, 'write');
    await created('walked 7');
    expect(await walked(6, 'write')).toBe(await routeBody(6, 'write'));
    expect((JSON.parse(await walked(6, 'write')) as Connector[]).map((c) => c.name)).toEqual([
      'walked 6',
      'walked 7',
    ]);
  });

  it('answers a page of connectors some kept and some read once as the route does, made in one go when most are read once', async () => {
    // A second server on the database: connectors the first created are new to it (not kept) until
    // a GET of one keeps it, or a second read does (connector-row.ts).
    const first = await buildTestApp({ shareable: true });
    const second = await buildTestApp({ sameDatabaseAs: first });
    try {
      await second.app.listen({ port: 0, host: '127.0.0.1' });
      const address = second.app.server.address();
      if (address === null || typeof address === 'string') throw new Error('not listening');
      const ids: string[] = [];
      const create = async (name: string) => {
        const made = await first.call('POST', '/api/connectors', { body: validBody(jira, name) });
        ids.push(json<Connector>(made).id);
      };
      for (let i = 0; i < 6; i++) await create(`mixed ${i}`);
      const auth = { Authorization: bearer(second.keys.write) };
      /** Over a socket, right after a request through Fastify looked the key up (the fast path needs it cached). */
      const socketBody = async (path: string) => {
        await second.call('GET', '/api/me');
        const raw = await rawRequest(address.port, path, auth);
        expect(raw.slice(9, 12)).toBe('200');
        return raw.slice(raw.indexOf('\r\n\r\n') + 4);
      };
      // The page made in one go is the one JSON.stringify of an array of connectors' views.
      const stringify = vi.spyOn(JSON, 'stringify');
      const pagesStringified = () =>
        stringify.mock.calls.filter(
          ([value]) => Array.isArray(value) && value.length > 0 && value.every((v) => isConnectorView(v)),
        ).length;
      // The route compiles the serializer; a GET over a socket keeps connectors 0 and 1.
      await second.call('GET', `/api/connectors/${String(ids[0])}`);
      for (const id of ids.slice(0, 2)) await socketBody(`/api/connectors/${id}`);
      let before = pagesStringified();
      // 2 kept of 6: made in one go.
      const mostlyNew = await socketBody('/api/connectors?start-index=0&max-results=6');
      if (testBackend === 'sqlite') expect(pagesStringified() - before).toBe(1);
      // 2 kept of 4 (4 and 5, read by the page above and again through the route): view by view.
      for (let i = 6; i < 8; i++) await create(`mixed ${i}`);
      await second.call('GET', '/api/connectors?start-index=4&max-results=2');
      before = pagesStringified();
      const halfKept = await socketBody('/api/connectors?start-index=4&max-results=4');
      expect(pagesStringified() - before).toBe(0);
      stringify.mockRestore();
      expect(mostlyNew).toBe((await second.call('GET', '/api/connectors?start-index=0&max-results=6')).body);
      expect(halfKept).toBe((await second.call('GET', '/api/connectors?start-index=4&max-results=4')).body);
      expect((JSON.parse(halfKept) as Connector[]).map((c) => c.name)).toEqual([
        'mixed 4',
        'mixed 5',
        'mixed 6',
        'mixed 7',
      ]);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('leaves other queries to Fastify, which answers as it always did', async () => {
    await created('queried');
    const ours = { Authorization: bearer(t.keys.write) };
    for (let i = 0; i < 3; i++) await exchange('/api/connectors', ours);
    const cases: [string, number][] = [
      ['/api/connectors?max-results=0', 400],
      ['/api/connectors?max-results=101', 400],
      ['/api/connectors?max-results=5&max-results=5', 400],
      ['/api/connectors?max-results=%35', 200],
      ['/api/connectors?x=1', 200],
      ['/api/connectors/', 200],
      ['/api/connectorsx', 404],
    ];
    for (const [path, status] of cases) {
      const before = viaFastify;
      const answer = await exchange(path, ours);
      expect({ path, status: answer.status }).toEqual({ path, status });
      expect({ path, viaFastify: viaFastify - before }).toEqual({ path, viaFastify: 1 });
    }
    const before = viaFastify;
    expect((await exchange('/api/connectors', {})).status).toBe(401);
    expect(viaFastify - before).toBe(1);
  });
});
