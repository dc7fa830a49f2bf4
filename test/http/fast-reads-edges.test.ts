import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { installAuth, type RecentKeys } from '../../src/http/auth.js';
import { answerFirst, type FastRead, fastReads, keepBounded, ownBytes } from '../../src/http/fast-reads.js';
import { DEFAULT_PAGE_SIZE } from '../../src/http/paging.js';
import { createSecretBox } from '../../src/secrets/secret-box.js';
import { type ConnectorStore, createConnectorStore } from '../../src/store/connector-store.js';
import { createKeyStore, type KeyPrincipal } from '../../src/store/key-store.js';
import { testBackend } from '../backend.js';
import { buildTestApp, json, rawRequest, type TestContext, typeOf, validBody } from '../helpers.js';

// Where the fast path of src/http/fast-reads.ts stops: which requests it answers itself and which
// it leaves to Fastify. Fastify gives the same answers, so fast-reads.test.ts, which checks the
// answers, cannot tell a fast path that declines too often from a right one. Here the fast read
// stands on a server of the test's own, in front of a stand-in for Fastify that answers 204: each
// request is seen to be answered by one or the other, and the store records what was looked up.
// The keys are the test app's, admitted as if looked up a moment ago (auth.ts's cache). SQLite
// only: PostgreSQL reads nothing synchronously, so there every read goes to Fastify
// (fast-reads.test.ts checks that).

const jira = typeOf('jira');
let t: TestContext;
let server: Server;
let port = 0;
let shuttingDown = false;
/** The ids and pages the fast path asked the store for, in order. */
let looked: string[] = [];
let listed: [offset: number, limit: number][] = [];
/** The test app's keys, admitted as if looked up a moment ago (read and write keys of acme). */
let admittedKeys: RecentKeys;
/** The store the fast read asks, recording what it is asked. */
let store: ConnectorStore;
/** What stands in front of the stand-in for Fastify (a test may put another there). */
let read: FastRead;

beforeEach(async () => {
  t = await buildTestApp({
    // The overload guard installed (isUnderPressure decorated), with its first sample in ten
    // minutes: never under pressure unless a test says so.
    limits: { overload: { maxEventLoopDelayMs: 1_000, sampleIntervalMs: 600_000, retryAfterSeconds: 5 } },
  });
  const keyStore = createKeyStore(t.database.db, t.hashing);
  const admitted = new Map<string, KeyPrincipal>();
  for (const key of [t.keys.write, t.keys.read]) {
    const principal = await keyStore.findActive(key);
    if (!principal) throw new Error('a test key is not active');
    admitted.set(`Bearer ${key}`, principal);
  }
  admittedKeys = {
    admitRead: (header) => (header === undefined ? undefined : admitted.get(header)),
  };
  // A store of its own on the app's database: reads what the app wrote.
  const connectors = createConnectorStore(
    t.database.db,
    createSecretBox(t.keyring),
    undefined,
    t.database.transact,
  );
  looked = [];
  listed = [];
  store = {
    ...connectors,
    getNow(accountId, id) {
      looked.push(id);
      return connectors.getNow(accountId, id);
    },
    listNow(accountId, offset, limit) {
      listed.push([offset, limit]);
      return connectors.listNow(accountId, offset, limit);
    },
  };
  shuttingDown = false;
  read = fastReads(t.app, {
    keys: admittedKeys,
    store,
    revealSecrets: 'write-keys',
    closing: () => shuttingDown,
  });
  server = createServer((request, response) => {
    if (read(request, response)) return;
    response.writeHead(204, { 'x-answered-by': 'fastify' });
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  port = address.port;
});
afterEach(async () => {
  vi.restoreAllMocks();
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

/** Who answered one request, sent raw over its own connection, and what. */
async function ask(
  path: string,
  headers: Record<string, string> = { Authorization: `Bearer ${t.keys.write}` },
  method = 'GET',
  body = '',
): Promise<{ by: 'fast path' | 'fastify'; status: number; body: string }> {
  const received = await rawRequest(port, path, headers, method, body);
  return {
    by: /\r\nx-answered-by: fastify\r\n/i.test(received) ? 'fastify' : 'fast path',
    status: Number(received.slice(9, 12)),
    body: received.slice(received.indexOf('\r\n\r\n') + 4),
  };
}

async function created(name: string): Promise<Connector> {
  return json<Connector>(await t.call('POST', '/api/connectors', { body: validBody(jira, name) }));
}

describe.skipIf(testBackend !== 'sqlite')('the fast path’s bounds', () => {
  it('serves a connector that exists, in the route’s bytes', async () => {
    const { id } = await created('served');
    const answer = await ask(`/api/connectors/${id}`);
    expect(answer).toEqual({
      by: 'fast path',
      status: 200,
      body: (await t.call('GET', `/api/connectors/${id}`)).body,
    });
    expect(looked).toEqual([id]);
  });

  it('looks up an id of 1 to 128 letters, digits, - and _; none, 129, another character or `name` fall through unread', async () => {
    const cases: [id: string, lookedUp: boolean][] = [
      ['a', true],
      ['x'.repeat(128), true],
      ['Az09_-', true],
      ['names', true],
      ['', false],
      ['x'.repeat(129), false],
      ['name', false],
      ['.abc', false],
      ['abc.', false],
      ['ab~c', false],
      ['%41bc', false],
      ['abc/def', false],
    ];
    for (const [id, lookedUp] of cases) {
      looked = [];
      const answer = await ask(`/api/connectors/${id}`);
      // None of them exists: every one ends with Fastify.
      expect({ id, by: answer.by, looked }).toEqual({ id, by: 'fastify', looked: lookedUp ? [id] : [] });
    }
  });

  it('answers only a plain GET: HEAD, POST, a Content-Length or a Transfer-Encoding falls through', async () => {
    const { id } = await created('plain');
    const path = `/api/connectors/${id}`;
    const key = { Authorization: `Bearer ${t.keys.write}` };
    expect((await ask(path, key)).by).toBe('fast path');
    const cases: [method: string, headers: Record<string, string>, body: string][] = [
      ['HEAD', key, ''],
      ['POST', key, ''],
      ['GET', { ...key, 'Content-Length': '0' }, ''],
      ['GET', { ...key, 'Transfer-Encoding': 'chunked' }, '0\r\n\r\n'],
    ];
    for (const [method, headers, body] of cases) {
      looked = [];
      const answer = await ask(path, headers, method, body);
      expect({ method, headers, by: answer.by, looked }).toEqual({
        method,
        headers,
        by: 'fastify',
        looked: [],
      });
    }
  });

  it('answers only /api/connectors and what is under it: a path of the same length falls through', async () => {
    const { id } = await created('paths');
    for (const path of [
      '/api/Connectors',
      '/api/connectorZ',
      `/API/connectors/${id}`,
      `/api/connectorZ/${id}`,
    ]) {
      const answer = await ask(path);
      expect({ path, by: answer.by, looked, listed }).toEqual({
        path,
        by: 'fastify',
        looked: [],
        listed: [],
      });
    }
  });

  it('answers nothing while the app shuts down: Fastify gives its 503', async () => {
    const { id } = await created('closing');
    shuttingDown = true;
    expect((await ask(`/api/connectors/${id}`)).by).toBe('fastify');
    expect((await ask('/api/connectors')).by).toBe('fastify');
    shuttingDown = false;
    expect((await ask(`/api/connectors/${id}`)).by).toBe('fast path');
  });

  it('answers nothing while the overload guard says overloaded: Fastify gives its 503', async () => {
    const { id } = await created('overloaded');
    const pressure = vi.spyOn(t.app, 'isUnderPressure').mockReturnValue(true);
    expect((await ask(`/api/connectors/${id}`)).by).toBe('fastify');
    expect((await ask('/api/connectors')).by).toBe('fastify');
    pressure.mockReturnValue(false);
    expect((await ask(`/api/connectors/${id}`)).by).toBe('fast path');
    expect(pressure).toHaveBeenCalled();
  });

  it('leaves to Fastify whatever fails on the fast path (which fails it again and answers)', async () => {
    const { id } = await created('failing');
    store = {
      ...store,
      getNow() {
        throw new Error('the disk is gone');
      },
    };
    read = fastReads(t.app, { keys: admittedKeys, store, revealSecrets: 'write-keys', closing: () => false });
    expect((await ask(`/api/connectors/${id}`)).by).toBe('fastify');
  });

  it('leaves a key not admitted (not looked up a moment ago, or none) to Fastify, without a read', async () => {
    const { id } = await created('unknown key');
    const unknown: Record<string, string>[] = [{ Authorization: `Bearer ${t.keys.otherWrite}` }, {}];
    for (const headers of unknown) {
      const answer = await ask(`/api/connectors/${id}`, headers);
      expect({ headers, by: answer.by, looked }).toEqual({ headers, by: 'fastify', looked: [] });
    }
  });
});

describe.skipIf(testBackend !== 'sqlite')('the fast path’s record of a key’s use', () => {
  it('logs in the app’s log a use it could not record (the database busy)', async () => {
    const { id } = await created('key use');
    // auth.ts's cache of another app, with its own clock, whose store cannot record a use.
    let clock = 1_000_000;
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const keyStore = { ...createKeyStore(t.database.db, t.hashing), touch: () => Promise.reject(busy) };
    const other = Fastify();
    const keys = installAuth(other, { keys: keyStore, now: () => clock });
    other.get('/api/probe', async () => 'ok');
    // Looked up by the hook; its use not recorded, so the next one tries again.
    expect(
      (await other.inject({ url: '/api/probe', headers: { authorization: `Bearer ${t.keys.write}` } })).body,
    ).toBe('ok');
    await other.close();
    read = fastReads(t.app, { keys, store, revealSecrets: 'write-keys', closing: () => false });
    clock += 1_000;
    const from = t.logs.length;
    expect((await ask(`/api/connectors/${id}`)).by).toBe('fast path');
    await new Promise((resolve) => setImmediate(resolve));
    const lines = t.logs.slice(from).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.msg)).toContain('API key last use not recorded: the database is busy');
  });
});

describe.skipIf(testBackend !== 'sqlite')('the fast path’s list queries', () => {
  it.each([
    ['', [0, DEFAULT_PAGE_SIZE]],
    ['?', [0, DEFAULT_PAGE_SIZE]],
    ['?max-results=2', [0, 2]],
    ['?start-index=1', [1, DEFAULT_PAGE_SIZE]],
    ['?start-index=1&max-results=2', [1, 2]],
    ['?max-results=2&start-index=1', [1, 2]],
    ['?start-index=0000000001&max-results=0000000002', [1, 2]],
  ] as const)('serves /api/connectors%s, the page [offset, limit] = %j', async (query, page) => {
    for (let i = 0; i < 3; i++) await created(`page ${i}`);
    const answer = await ask(`/api/connectors${query}`);
    expect(answer.by).toBe('fast path');
    expect(listed).toEqual([page]);
    expect(answer.body).toBe((await t.call('GET', `/api/connectors${query}`)).body);
  });

  it('writes a page read once (made in one JSON.stringify where that is the serializer’s text) as the route does, whatever its texts', async () => {
    const names = [
      'quote " and backslash \\ in a short name',
      'a name longer than forty-one characters with a " quote and a \\ backslash',
      'line\u2028separator, \u00e9, \u{1f600} and a long enough tail to pass 41',
      'plain',
      'checked',
      'a number in its params',
      'a line break in a param name',
      'a line separator in a param name',
    ];
    const ids: string[] = [];
    for (const name of names) {
      const made = await t.call('POST', '/api/connectors', { body: validBody(jira, name) });
      expect(made.statusCode).toBe(201);
      ids.push(json<Connector>(made).id);
    }
    const { db } = t.database;
    // What the API would not write, as a copied row might hold it: a check with a field the
    // schema leaves out, params with a number and a name holding a line break.
    await db
      .updateTable('connectors')
      .set({
        last_check: JSON.stringify({
          ok: true,
          status: 'ok',
          message: 'fine "quoted" \\',
          latencyMs: 12,
          checkedAt: '2026-01-01T00:00:00.000Z',
          extra: 1,
        }),
      })
      .where('id', '=', String(ids[4]))
      .execute();
    const odd = [
      { url: 'https://example.com/"x"\\', number: 5 },
      { url: 'https://example.com/', 'line\nbreak': 'v' },
      { url: 'https://example.com/', 'line\u2028separator': 'w' },
    ];
    for (const [i, params] of odd.entries()) {
      await db
        .updateTable('connectors')
        .set({ params: JSON.stringify(params) })
        .where('id', '=', String(ids[5 + i]))
        .execute();
    }
    // Each page asked of the fast path first (rows read once, not kept), then of the route; none
    // of the odd ones starts where the one before ended (which would read its rows ahead).
    const pages = ['?max-results=3', ...[7, 4, 6, 5, 3].map((at) => `?start-index=${at}&max-results=1`), ''];
    for (const query of pages) {
      const answer = await ask(`/api/connectors${query}`);
      expect(answer.by).toBe('fast path');
      expect(answer.body).toBe((await t.call('GET', `/api/connectors${query}`)).body);
    }
  });

  it('serves a kept page again only while every connector on it is the same: a change to the second shows', async () => {
    await created('first');
    const { id } = await created('second');
    for (let i = 0; i < 2; i++) expect((await ask('/api/connectors')).by).toBe('fast path');
    await t.call('PUT', `/api/connectors/${id}`, { body: validBody(jira, 'second, renamed') });
    const answer = await ask('/api/connectors');
    expect(answer.by).toBe('fast path');
    expect((JSON.parse(answer.body) as Connector[]).map((c) => c.name)).toEqual(['first', 'second, renamed']);
  });

  it.each([
    '?max-results=',
    '?max-results=00000000002',
    '?start-index=00000000001',
    '?xmax-results=2',
    '?max-results=2x',
    '?max-results=2&',
    '?&max-results=2',
    '?max-results=2&start-index=1x',
    '?max-results=2&xstart-index=1',
    '?max-results=2&max-results=2',
    '?max-results=-2',
  ])('leaves /api/connectors%s to Fastify, unread', async (query) => {
    await created('queried');
    const answer = await ask(`/api/connectors${query}`);
    expect({ by: answer.by, listed }).toEqual({ by: 'fastify', listed: [] });
  });
});

describe.skipIf(testBackend !== 'sqlite')('the fast path’s log line and metrics', () => {
  it.each([
    ['one connector', '/api/connectors/:id'],
    ['a page', '/api/connectors'],
  ] as const)('give %s’s latency: the line in ms to 2 decimals, the metrics in seconds', async (_, route) => {
    const { id } = await created('timed');
    const path = route === '/api/connectors' ? '/api/connectors' : `/api/connectors/${id}`;
    const observed = vi.spyOn(t.app, 'observeRequest');
    // Each reading of the clock 12.3456 ms after the one before.
    let clock = 1_000;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => {
      clock += 12.3456;
      return clock;
    });
    const from = t.logs.length;
    const answer = await ask(path, { Authorization: `Bearer ${t.keys.write}`, 'X-Request-Id': 'timed-1' });
    now.mockRestore();
    expect(answer.by).toBe('fast path');
    const lines = t.logs
      .slice(from)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'request');
    expect(lines).toEqual([
      {
        level: 30,
        time: expect.any(String),
        pid: process.pid,
        hostname: expect.any(String),
        requestId: 'timed-1',
        method: 'GET',
        route,
        url: path,
        status: 200,
        latencyMs: 12.35,
        account: 'acme',
        msg: 'request',
      },
    ]);
    expect(observed.mock.calls).toEqual([[route, 'GET', 200, expect.closeTo(0.0123456, 9)]]);
  });
});

describe('answerFirst', () => {
  it('refuses a server without exactly one request listener (Fastify’s)', () => {
    const declines: FastRead = () => false;
    expect(() => answerFirst(createServer(), declines)).toThrow(
      "answerFirst: the server has 0 request listeners, not Fastify's one",
    );
    const two = createServer(() => {});
    two.on('request', () => {});
    expect(() => answerFirst(two, declines)).toThrow(
      "answerFirst: the server has 2 request listeners, not Fastify's one",
    );
  });
});

describe('keepBounded (the kept pages’ bound on memory)', () => {
  it('holds up to max entries; a new key past max drops all the others first', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 3; i++) keepBounded(map, `k${i}`, i, 3);
    expect([...map.entries()]).toEqual([
      ['k0', 0],
      ['k1', 1],
      ['k2', 2],
    ]);
    keepBounded(map, 'k3', 3, 3);
    expect([...map.entries()]).toEqual([['k3', 3]]);
  });

  it('replaces a key it holds without dropping the others, even when full', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 3; i++) keepBounded(map, `k${i}`, i, 3);
    keepBounded(map, 'k1', 10, 3);
    expect([...map.entries()]).toEqual([
      ['k0', 0],
      ['k1', 10],
      ['k2', 2],
    ]);
  });

  it('one short of max keeps everything', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 2; i++) keepBounded(map, `k${i}`, i, 3);
    expect(map.size).toBe(2);
  });
});

describe('ownBytes (kept bodies outside the shared Buffer pool)', () => {
  it('gives the UTF-8 bytes of the string, every one written, in memory of their own', () => {
    for (const text of ['', '{"name":"a"}', '{"name":"Zürich ✓ 𝄞"}', 'x'.repeat(5_000)]) {
      // Fill the pool with non-zero bytes first: uninitialized memory must not show through.
      Buffer.from('\u00ff'.repeat(2_000), 'latin1');
      const bytes = ownBytes(text);
      expect(bytes.equals(Buffer.from(text))).toBe(true);
      expect(bytes.toString()).toBe(text);
      // Its own ArrayBuffer, exactly its size: not a slice of an 8 KiB slab other Buffers share.
      expect(bytes.byteOffset).toBe(0);
      expect(bytes.buffer.byteLength).toBe(Buffer.byteLength(text));
    }
  });
});
