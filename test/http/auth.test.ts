import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectorTypes } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import { SECRET_PLACEHOLDER } from '../../src/connectors/secrets.js';
import { KEY_CACHE_TTL_MS } from '../../src/http/auth.js';
import { createKeyStore } from '../../src/store/key-store.js';
import {
  buildTestApp,
  type ErrorResponse,
  json,
  type TestContext,
  typeOf,
  validBody,
  validParams,
} from '../helpers.js';

/** The value, or a thrown error that fails the test loudly. */
function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('expected a value');
  return value;
}

const jira = typeOf('jira');

function expectUnauthorized(response: Awaited<ReturnType<TestContext['call']>>): void {
  expect(response.statusCode).toBe(401);
  expect(String(response.headers['www-authenticate'])).toMatch(/^Bearer( |$)/);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(json<ErrorResponse>(response)).toEqual({
    status: 401,
    code: 'UNAUTHORIZED',
    message: expect.stringMatching(/\S/),
  });
}

describe('authentication', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await buildTestApp();
  });
  afterAll(async () => {
    await ctx.close();
  });

  const routes = [
    ['GET', '/api/connectors'],
    ['GET', '/api/connectors/some-id'],
    ['GET', '/api/connectors/name/some-name'],
    ['POST', '/api/connectors'],
    ['PUT', '/api/connectors/some-id'],
    ['DELETE', '/api/connectors/some-id'],
  ] as const;

  const badHeaders: [string, string | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
    ['Basic scheme', 'Basic x'],
    ['Basic with credentials', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l'],
    ['Bearer without a key', 'Bearer'],
    ['Bearer and a space only', 'Bearer '],
    ['Bearer with two tokens', 'Bearer a b'],
    ['a key without scheme', 'pb_abcdefghijklmnopqrstuvwxyz'],
    ['unknown key', 'Bearer pb_this-key-does-not-exist-0123456789abcdef'],
  ];

  describe.each(badHeaders)('with %s Authorization', (_label, header) => {
    it.each(routes)('%s %s answers 401 with a Bearer challenge and the error shape', async (method, url) => {
      const response = await ctx.call(method, url, {
        key: null,
        headers: header === undefined ? {} : { authorization: header },
        ...(method === 'POST' || method === 'PUT' ? { body: validBody(jira) } : {}),
      });
      expectUnauthorized(response);
    });
  });

  it('a malformed or unknown key is flagged as invalid_token, a missing key is not', async () => {
    const missing = await ctx.call('GET', '/api/connectors', { key: null });
    expect(missing.headers['www-authenticate']).not.toMatch(/invalid_token/);
    const unknown = await ctx.call('GET', '/api/connectors', { key: 'pb_nope' });
    expect(unknown.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('a request that fails authentication changes nothing', async () => {
    const before = json<Connector[]>(await ctx.call('GET', '/api/connectors'));
    const created = await ctx.call('POST', '/api/connectors', {
      key: 'pb_unknown-key',
      body: validBody(jira, 'should not exist'),
    });
    expectUnauthorized(created);
    expect(json<Connector[]>(await ctx.call('GET', '/api/connectors'))).toEqual(before);
  });

  it('accepts the scheme case-insensitively', async () => {
    const response = await ctx.call('GET', '/api/connectors', {
      key: null,
      headers: { authorization: `bearer ${ctx.keys.read}` },
    });
    expect(response.statusCode).toBe(200);
  });

  it('authenticates by the matched route, also when the path is percent-encoded', async () => {
    const url = '/%61pi/connectors';
    expectUnauthorized(await ctx.call('GET', url, { key: null }));
    const read = await ctx.call('GET', url, { key: ctx.keys.read });
    expect(read.statusCode).toBe(200);
    const forbidden = await ctx.call('POST', url, {
      key: ctx.keys.read,
      body: validBody(jira, 'encoded path'),
    });
    expect(forbidden.statusCode).toBe(403);
    expect(json<ErrorResponse>(forbidden).code).toBe('FORBIDDEN');
  });

  it('serves /api/openapi.json and /healthz without a key', async () => {
    const openapi = await ctx.call('GET', '/api/openapi.json', { key: null });
    expect(openapi.statusCode).toBe(200);
    expect(json<{ openapi: string }>(openapi).openapi).toMatch(/^3\./);
    const health = await ctx.call('GET', '/healthz', { key: null });
    expect(health.statusCode).toBe(200);
    expect(json(health)).toEqual({ status: 'ok', ageMs: expect.any(Number) });
  });
});

describe('the read role', () => {
  let ctx: TestContext;
  let existing: Connector;
  beforeAll(async () => {
    ctx = await buildTestApp();
    const type = typeOf('jira');
    const created = await ctx.call('POST', '/api/connectors', { body: validBody(type, 'existing') });
    expect(created.statusCode).toBe(201);
    existing = json<Connector>(created);
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function snapshot(): Promise<Connector[]> {
    const response = await ctx.call('GET', '/api/connectors?max-results=100');
    expect(response.statusCode).toBe(200);
    return json<Connector[]>(response);
  }

  it('may use every GET (and HEAD)', async () => {
    const key = ctx.keys.read;
    const list = await ctx.call('GET', '/api/connectors', { key });
    expect(list.statusCode).toBe(200);
    expect(json<Connector[]>(list).map((c) => c.id)).toEqual([existing.id]);
    const paged = await ctx.call('GET', '/api/connectors?max-results=10&start-index=0', { key });
    expect(paged.statusCode).toBe(200);
    const one = await ctx.call('GET', `/api/connectors/${existing.id}`, { key });
    expect(one.statusCode).toBe(200);
    expect(json<Connector>(one).id).toBe(existing.id);
    const byName = await ctx.call('GET', '/api/connectors/name/existing', { key });
    expect(byName.statusCode).toBe(200);
    expect(json<Connector>(byName).id).toBe(existing.id);
    expect((await ctx.call('GET', '/api/openapi.json', { key })).statusCode).toBe(200);
    expect((await ctx.call('GET', '/healthz', { key })).statusCode).toBe(200);
    expect((await ctx.call('HEAD', '/api/connectors', { key })).statusCode).toBe(200);
    // A read of a connector that does not exist is a 404, not a 403.
    const missing = await ctx.call('GET', '/api/connectors/does-not-exist', { key });
    expect(missing.statusCode).toBe(404);
  });

  const writes: [string, 'POST' | 'PUT' | 'DELETE', (c: Connector) => string, () => unknown][] = [
    ['POST a new connector', 'POST', () => '/api/connectors', () => validBody(jira, 'new one')],
    [
      'PUT an existing connector',
      'PUT',
      (c) => `/api/connectors/${c.id}`,
      () => ({ ...validBody(typeOf('jira'), 'renamed', 'changed') }),
    ],
    ['PUT an unknown id', 'PUT', () => '/api/connectors/does-not-exist', () => validBody(jira)],
    ['DELETE an existing connector', 'DELETE', (c) => `/api/connectors/${c.id}`, () => undefined],
    ['DELETE an unknown id', 'DELETE', () => '/api/connectors/does-not-exist', () => undefined],
    ['POST an invalid body', 'POST', () => '/api/connectors', () => ({ nonsense: true })],
  ];

  it.each(writes)(
    'may not %s: 403 with the error shape, nothing changes',
    async (_label, method, url, body) => {
      const before = await snapshot();
      const response = await ctx.call(method, url(existing), { key: ctx.keys.read, body: body() });
      expect(response.statusCode).toBe(403);
      expect(json<ErrorResponse>(response)).toEqual({
        status: 403,
        code: 'FORBIDDEN',
        message: expect.stringContaining(method),
      });
      expect(await snapshot()).toEqual(before);
      const again = await ctx.call('GET', `/api/connectors/${existing.id}`);
      expect(json<Connector>(again)).toEqual(existing);
    },
  );
});

describe('masking of secret params', () => {
  let ctx: TestContext;
  const typesWithSecrets = connectorTypes.filter((type) => type.secretParams.size > 0);
  const created = new Map<string, Connector>();

  beforeAll(async () => {
    ctx = await buildTestApp();
    for (const type of connectorTypes) {
      const response = await ctx.call('POST', '/api/connectors', {
        body: validBody(type, `masked ${type.id}`),
      });
      expect(response.statusCode).toBe(201);
      created.set(type.id, json<Connector>(response));
    }
  });
  afterAll(async () => {
    await ctx.close();
  });

  /** What a read key must see: every declared param present, secrets as the placeholder. */
  function maskedFor(typeId: string): Record<string, string> {
    const type = typeOf(typeId);
    const params = validParams(type);
    return Object.fromEntries(
      Object.entries(params).map(([name, value]) => [
        name,
        type.secretParams.has(name) ? SECRET_PLACEHOLDER : value,
      ]),
    );
  }

  describe.each(typesWithSecrets.map((type) => [type.id, type] as const))('type %s', (id, type) => {
    it('the write key sees every param in full (POST, GET one, GET by name, list)', async () => {
      const full = validParams(type);
      const connector = defined(created.get(id));
      expect(connector.params).toEqual(full);
      const one = await ctx.call('GET', `/api/connectors/${connector.id}`);
      expect(json<Connector>(one).params).toEqual(full);
      const byName = await ctx.call('GET', `/api/connectors/name/${encodeURIComponent(connector.name)}`);
      expect(json<Connector>(byName).params).toEqual(full);
      const list = json<Connector[]>(await ctx.call('GET', '/api/connectors?max-results=100'));
      expect(list.find((c) => c.id === connector.id)?.params).toEqual(full);
    });

    it('the read key sees secrets as the placeholder and other params in clear', async () => {
      const expected = maskedFor(id);
      // Non-vacuous: at least one secret is present in the stored params, and it is masked.
      expect(Object.values(expected)).toContain(SECRET_PLACEHOLDER);
      const connector = defined(created.get(id));
      const key = ctx.keys.read;

      const one = await ctx.call('GET', `/api/connectors/${connector.id}`, { key });
      expect(one.statusCode).toBe(200);
      expect(json<Connector>(one)).toEqual({ ...connector, params: expected });

      const byName = await ctx.call('GET', `/api/connectors/name/${encodeURIComponent(connector.name)}`, {
        key,
      });
      expect(byName.statusCode).toBe(200);
      expect(json<Connector>(byName)).toEqual({ ...connector, params: expected });

      const list = await ctx.call('GET', '/api/connectors?max-results=100', { key });
      expect(list.statusCode).toBe(200);
      expect(json<Connector[]>(list).find((c) => c.id === connector.id)).toEqual({
        ...connector,
        params: expected,
      });

      // No secret value appears anywhere in what the read key got.
      for (const name of type.secretParams) {
        const secret = defined(connector.params[name]);
        expect(one.body).not.toContain(secret);
        expect(byName.body).not.toContain(secret);
        expect(list.body).not.toContain(secret);
      }
    });
  });

  it('the read key sees types without secrets in full', async () => {
    for (const type of connectorTypes.filter((t) => t.secretParams.size === 0)) {
      const connector = defined(created.get(type.id));
      const one = await ctx.call('GET', `/api/connectors/${connector.id}`, { key: ctx.keys.read });
      expect(json<Connector>(one)).toEqual(connector);
    }
  });
});

describe('keys changed while the app runs', () => {
  let ctx: TestContext;
  afterEach(async () => {
    vi.useRealTimers();
    await ctx?.close();
  });

  it('a key created after start works at once, even right after it was tried and refused', async () => {
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const chosen = 'pb_chosen-key-0123456789abcdefghijkl';
    expectUnauthorized(await ctx.call('GET', '/api/connectors', { key: chosen }));
    expect(await keyStore.ensure('acme', chosen, 'late write key')).toBe('created');
    const list = await ctx.call('GET', '/api/connectors', { key: chosen });
    expect(list.statusCode).toBe(200);
    const post = await ctx.call('POST', '/api/connectors', {
      key: chosen,
      body: validBody(jira),
    });
    expect(post.statusCode).toBe(201);

    const late = await keyStore.create('globex', 'read', 'late read key');
    const read = await ctx.call('GET', '/api/connectors', { key: late.secret });
    expect(read.statusCode).toBe(200);
    expect(json(read)).toEqual([]);
  });

  it('the auth cache TTL is at most 5 seconds', () => {
    expect(KEY_CACHE_TTL_MS).toBeGreaterThan(0);
    expect(KEY_CACHE_TTL_MS).toBeLessThanOrEqual(5_000);
  });

  it('a revoked key stops working within 5 seconds', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const key = await keyStore.create('acme', 'write', 'to be revoked');
    expect((await ctx.call('GET', '/api/connectors', { key: key.secret })).statusCode).toBe(200);
    expect(await keyStore.revoke(key.id)).toBe('revoked');
    vi.advanceTimersByTime(5_000);
    expectUnauthorized(await ctx.call('GET', '/api/connectors', { key: key.secret }));
    // The other keys are unaffected.
    expect((await ctx.call('GET', '/api/connectors')).statusCode).toBe(200);
  });

  it('PLUGBOARD_API_KEY at start: a key that is there stays, a revoked or read key is made an active write key again', async () => {
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const chosen = 'pb_bootstrap-key-0123456789abcdefghij';
    expect(await keyStore.ensure('default', chosen, 'PLUGBOARD_API_KEY')).toBe('created');
    expect(await keyStore.ensure('default', chosen, 'PLUGBOARD_API_KEY')).toBe('present');
    const [listed] = (await keyStore.list('default')).filter((key) => key.label === 'PLUGBOARD_API_KEY');
    expect(await keyStore.revoke(listed?.id ?? '')).toBe('revoked');
    expect(await keyStore.ensure('default', chosen, 'PLUGBOARD_API_KEY')).toBe('reinstated');
    expect(
      (await ctx.call('POST', '/api/connectors', { key: chosen, body: validBody(jira) })).statusCode,
    ).toBe(201);
    // Expired, or an active write key of another account: made a write key of `default` again.
    await ctx.database.db
      .updateTable('api_keys')
      .set({ expires_at: '2020-01-01T00:00:00.000Z' })
      .where('label', '=', 'PLUGBOARD_API_KEY')
      .execute();
    expect(await keyStore.ensure('default', chosen, 'PLUGBOARD_API_KEY')).toBe('reinstated');
    expect(await keyStore.ensure('acme', chosen, 'PLUGBOARD_API_KEY')).toBe('reinstated');
    expect(await keyStore.ensure('default', chosen, 'PLUGBOARD_API_KEY')).toBe('reinstated');
    expect(await keyStore.ensure('default', chosen, 'PLUGBOARD_API_KEY')).toBe('present');
  });
});

describe('the edges of the Authorization header', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await buildTestApp();
  });
  afterAll(async () => {
    await ctx.close();
  });

  const withHeader = (authorization: string) =>
    ctx.call('GET', '/api/connectors', { key: null, headers: { authorization } });

  it('a Bearer key followed by extra text is refused', async () => {
    const response = await withHeader(`Bearer ${ctx.keys.read} extra`);
    expectUnauthorized(response);
    expect(response.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('text before the Bearer scheme is refused, even with a valid key', async () => {
    expectUnauthorized(await withHeader(`x Bearer ${ctx.keys.read}`));
    expectUnauthorized(await withHeader(`xBearer ${ctx.keys.read}`));
  });

  it('several spaces after Bearer and trailing spaces are accepted', async () => {
    expect((await withHeader(`Bearer   ${ctx.keys.read}`)).statusCode).toBe(200);
    expect((await withHeader(`Bearer ${ctx.keys.read}   `)).statusCode).toBe(200);
  });

  it('a malformed header is flagged as invalid_token, an empty one is not', async () => {
    const malformed = await withHeader('Basic x');
    expectUnauthorized(malformed);
    expect(malformed.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(json<ErrorResponse>(malformed).message).toMatch(/^malformed Authorization header/);
    const empty = await withHeader('');
    expectUnauthorized(empty);
    expect(empty.headers['www-authenticate']).not.toMatch(/invalid_token/);
    expect(json<ErrorResponse>(empty).message).toMatch(/^missing API key/);
  });

  it('a read key may not read the write-keys-only audit trail, and the 403 names the route', async () => {
    const response = await ctx.call('GET', '/api/audit-events', { key: ctx.keys.read });
    expect(response.statusCode).toBe(403);
    expect(json<ErrorResponse>(response).message).toBe(
      'this API key is read-only; /api/audit-events needs a key with the write role',
    );
    expect((await ctx.call('GET', '/api/audit-events', { key: ctx.keys.write })).statusCode).toBe(200);
  });

  it('the 403 of a write with a read key names the method', async () => {
    const response = await ctx.call('DELETE', '/api/connectors/some-id', { key: ctx.keys.read });
    expect(json<ErrorResponse>(response).message).toBe(
      'this API key is read-only; DELETE needs a key with the write role',
    );
  });

  it('a route outside /api needs no key unless it is marked keyRequired (/metrics)', async () => {
    expect((await ctx.call('GET', '/healthz', { key: null })).statusCode).toBe(200);
    expectUnauthorized(await ctx.call('GET', '/metrics', { key: null }));
    // A key of `acme` authenticates; the route itself then wants a key of account `default`.
    const withKey = await ctx.call('GET', '/metrics', { key: ctx.keys.read });
    expect(withKey.statusCode).toBe(403);
    expect(json<ErrorResponse>(withKey).message).toMatch(/^\/metrics counts every account/);
  });
});

describe('the moments of a key', () => {
  let ctx: TestContext;
  afterEach(async () => {
    vi.useRealTimers();
    await ctx?.close();
  });

  it('a key is refused from the very millisecond it expires, and accepted the millisecond before', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2030-01-01T00:00:00.000Z'));
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const expiresAt = '2030-01-01T01:00:00.000Z';
    const key = await keyStore.create('acme', 'read', 'expiring', expiresAt);
    vi.setSystemTime(Date.parse(expiresAt) - 1);
    expect((await ctx.call('GET', '/api/connectors', { key: key.secret })).statusCode).toBe(200);
    vi.setSystemTime(Date.parse(expiresAt));
    const expired = await ctx.call('GET', '/api/connectors', { key: key.secret });
    expectUnauthorized(expired);
    expect(expired.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(json<ErrorResponse>(expired).message).toBe(
      `this API key expired at ${expiresAt}; create a new one with plugboard keys create`,
    );
  });

  it('a key that is cached is looked up again once its TTL has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const key = await keyStore.create('acme', 'read', 'cached');
    expect((await ctx.call('GET', '/api/connectors', { key: key.secret })).statusCode).toBe(200);
    expect(await keyStore.revoke(key.id)).toBe('revoked');
    // Within the TTL the cached lookup still answers; at the TTL it does not.
    vi.advanceTimersByTime(KEY_CACHE_TTL_MS - 1);
    expect((await ctx.call('GET', '/api/connectors', { key: key.secret })).statusCode).toBe(200);
    vi.advanceTimersByTime(1);
    expectUnauthorized(await ctx.call('GET', '/api/connectors', { key: key.secret }));
  });

  it('a cached key stays cached while other keys are looked up (the cache empties only at 10,000 keys)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const key = await keyStore.create('acme', 'read', 'cached');
    expect((await ctx.call('GET', '/api/connectors', { key: key.secret })).statusCode).toBe(200);
    expect(await keyStore.revoke(key.id)).toBe('revoked');
    expect((await ctx.call('GET', '/api/connectors', { key: ctx.keys.otherRead })).statusCode).toBe(200);
    // Still answered from the cache: the other key's lookup did not empty it.
    expect((await ctx.call('GET', '/api/connectors', { key: key.secret })).statusCode).toBe(200);
  });

  it("one key's use does not reset another's once-a-minute throttle", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2030-01-01T00:00:00.000Z'));
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const key = await keyStore.create('acme', 'read', 'used');
    const lastUsed = async () =>
      (await keyStore.list('acme')).find((listed) => listed.id === key.id)?.lastUsedAt ?? null;
    const use = async (secret: string) => {
      expect((await ctx.call('GET', '/api/connectors', { key: secret })).statusCode).toBe(200);
    };
    await use(key.secret);
    await vi.waitFor(async () => expect(await lastUsed()).toBe('2030-01-01T00:00:00.000Z'));
    vi.setSystemTime(Date.parse('2030-01-01T00:00:30.000Z'));
    await use(ctx.keys.read);
    await use(key.secret);
    await use(ctx.keys.read);
    expect(await lastUsed()).toBe('2030-01-01T00:00:00.000Z');
  });

  it('an unknown /api path without a key is a 404, not a 401 or a crash', async () => {
    ctx = await buildTestApp();
    const response = await ctx.call('GET', '/api/no-such-route', { key: null });
    expect(response.statusCode).toBe(404);
  });

  it("a key's last use is written at most once a minute", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2030-01-01T00:00:00.000Z'));
    ctx = await buildTestApp();
    const keyStore = createKeyStore(ctx.database.db, ctx.hashing);
    const key = await keyStore.create('acme', 'read', 'used');
    const lastUsed = async () =>
      (await keyStore.list('acme')).find((listed) => listed.id === key.id)?.lastUsedAt ?? null;
    const use = async () => {
      expect((await ctx.call('GET', '/api/connectors', { key: key.secret })).statusCode).toBe(200);
    };
    expect(await lastUsed()).toBeNull();
    await use();
    await vi.waitFor(async () => expect(await lastUsed()).toBe('2030-01-01T00:00:00.000Z'));
    vi.setSystemTime(Date.parse('2030-01-01T00:00:59.999Z'));
    await use();
    // Still within the minute: not written again (a write would have landed by the next use's answer).
    await use();
    expect(await lastUsed()).toBe('2030-01-01T00:00:00.000Z');
    vi.setSystemTime(Date.parse('2030-01-01T00:01:00.000Z'));
    await use();
    await vi.waitFor(async () => expect(await lastUsed()).toBe('2030-01-01T00:01:00.000Z'));
  });
});
