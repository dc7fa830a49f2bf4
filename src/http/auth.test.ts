import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors.js';
import type { KeyPrincipal, KeyStore } from '../store/key-store.js';
import { installAuth, KEY_CACHE_TTL_MS, LAST_USED_INTERVAL_MS, principalOf } from './auth.js';

/** The principal of the read key `secret` (its stored hash `h:secret`), with `changes`. */
function readKey(changes: Partial<KeyPrincipal> = {}): KeyPrincipal {
  return {
    keyId: 'key_1',
    keyHash: 'h:secret',
    accountId: 1,
    accountName: 'acme',
    role: 'read',
    label: 'test',
    expiresAt: null,
    ...changes,
  };
}

/** An app with one keyed route whose key store's `touch` fails with `failure`; its log lines. */
async function appWhoseTouchFails(failure: Error & { code?: string }) {
  const lines: { level: number; msg: string; err?: { message: string } }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  let now = Date.parse('2030-01-01T00:00:00Z');
  const touch = vi.fn(async () => {
    throw failure;
  });
  const principal = readKey();
  const keys = {
    hash: (secret: string) => `h:${secret}`,
    findActive: async (secret: string) => (secret === 'secret' ? principal : undefined),
    touch,
  } as unknown as KeyStore;
  const app = Fastify({ logger: { level: 'trace', stream } });
  installAuth(app, { keys, now: () => now });
  app.get('/api/x', async () => ({ ok: true }));
  await app.ready();
  const use = async () => {
    const response = await app.inject({ url: '/api/x', headers: { authorization: 'Bearer secret' } });
    expect(response.statusCode).toBe(200);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { app, lines, touch, use, advance: (ms: number) => (now += ms) };
}

describe('when the last use cannot be written', () => {
  it('a busy database is logged at debug and the next request tries again, within the minute', async () => {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const { app, lines, touch, use, advance } = await appWhoseTouchFails(busy);
    await use();
    expect(
      lines.filter((line) => line.msg === 'API key last use not recorded: the database is busy'),
    ).toHaveLength(1);
    expect(lines.find((line) => line.level >= 40)).toBeUndefined();
    advance(1);
    await use();
    expect(touch).toHaveBeenCalledTimes(2);
    await app.close();
  });

  it('any other failure is a warning with the error, and waits out the minute like a success', async () => {
    const { app, lines, touch, use, advance } = await appWhoseTouchFails(new Error('disk on fire'));
    await use();
    const warning = lines.find((line) => line.msg === 'could not record when an API key was last used');
    expect(warning?.level).toBe(40);
    expect(warning?.err?.message).toBe('disk on fire');
    advance(LAST_USED_INTERVAL_MS - 1);
    await use();
    expect(touch).toHaveBeenCalledTimes(1);
    advance(1);
    await use();
    expect(touch).toHaveBeenCalledTimes(2);
    await app.close();
  });
});

describe('principalOf', () => {
  it('on a route the key check does not cover, asking for the principal fails closed: a 401 for a missing key', async () => {
    const app = Fastify();
    // Outside /api no key is looked up: a store that has nothing would fail the test if it were.
    installAuth(app, { keys: {} as KeyStore });
    let thrown: unknown;
    app.get('/outside', async (request) => {
      try {
        principalOf(request);
      } catch (error) {
        thrown = error;
      }
      return {};
    });
    expect((await app.inject({ url: '/outside' })).statusCode).toBe(200);
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'missing API key: send the header Authorization: Bearer <key>',
      // No key was sent, so no error="invalid_token" (RFC 6750, section 3.1).
      headers: { 'WWW-Authenticate': 'Bearer realm="plugboard"' },
    });
    await app.close();
  });
});

describe('when the key cannot be looked up', () => {
  it('answers with the lookup’s error (the database’s 503), not a request left hanging', async () => {
    const unavailable = Object.assign(new Error('the database is not answering; retry shortly'), {
      statusCode: 503,
    });
    const keys = {
      hash: (secret: string) => `h:${secret}`,
      findActive: async () => {
        throw unavailable;
      },
      touch: async () => {},
    } as unknown as KeyStore;
    const app = Fastify();
    installAuth(app, { keys });
    app.get('/api/x', async () => ({ ok: true }));
    await app.ready();
    const response = await app.inject({ url: '/api/x', headers: { authorization: 'Bearer secret' } });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ message: 'the database is not answering; retry shortly' });
    await app.close();
  });
});

/**
 * An app with one keyed route and the key cache it returns (what fast-reads.ts asks); the store
 * knows the key `secret`, whose principal is `stored` (its keyHash `h:secret` unless overridden).
 */
async function appWithRecentKeys(stored: Partial<KeyPrincipal> = {}) {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const principal = readKey(stored);
  const touch = vi.fn(async () => {});
  const findActive = vi.fn(async (secret: string) => (secret === 'secret' ? principal : undefined));
  const keys = { hash: (secret: string) => `h:${secret}`, findActive, touch } as unknown as KeyStore;
  const app = Fastify();
  const recent = installAuth(app, { keys, now: () => now });
  app.get('/api/x', async () => ({ ok: true }));
  await app.ready();
  const through = (authorization: string) => app.inject({ url: '/api/x', headers: { authorization } });
  const log = () => app.log;
  return { app, recent, principal, touch, findActive, through, log, advance: (ms: number) => (now += ms) };
}

describe('keys looked up a moment ago, for reads answered before Fastify (admitRead)', () => {
  it('a key is admitted only after the hook looked it up, as the principal the hook let in', async () => {
    const { app, recent, principal, through, log } = await appWithRecentKeys();
    expect(recent.admitRead('Bearer secret', log)).toBeUndefined();
    expect((await through('Bearer secret')).statusCode).toBe(200);
    expect(recent.admitRead('Bearer secret', log)).toEqual(principal);
    // The header's forms the hook reads: any case of "Bearer", blanks after the scheme and at the end.
    expect(recent.admitRead('bearer   secret  ', log)).toEqual(principal);
    await app.close();
  });

  it('no header, another scheme, a key with nothing after the scheme, or a key never looked up: not admitted', async () => {
    const { app, recent, through, log } = await appWithRecentKeys();
    expect((await through('Bearer secret')).statusCode).toBe(200);
    expect(recent.admitRead(undefined, log)).toBeUndefined();
    expect(recent.admitRead('Basic secret', log)).toBeUndefined();
    expect(recent.admitRead('Bearer ', log)).toBeUndefined();
    expect(recent.admitRead('Bearer secret extra', log)).toBeUndefined();
    expect(recent.admitRead('Bearer other', log)).toBeUndefined();
    await app.close();
  });

  it(`a lookup is trusted for ${KEY_CACHE_TTL_MS} ms: the moment before it ends, admitted; at its end, the hook asks the store again`, async () => {
    const { app, recent, principal, through, findActive, log, advance } = await appWithRecentKeys();
    await through('Bearer secret');
    advance(KEY_CACHE_TTL_MS - 1);
    expect(recent.admitRead('Bearer secret', log)).toEqual(principal);
    advance(1);
    expect(recent.admitRead('Bearer secret', log)).toBeUndefined();
    expect(findActive).toHaveBeenCalledTimes(1);
    await app.close();
  });

  it('a key that expired since its lookup is not admitted, from the moment of its expiry', async () => {
    const expiresAt = new Date(Date.parse('2030-01-01T00:00:00Z') + 1_000).toISOString();
    const { app, recent, through, log, advance } = await appWithRecentKeys({ expiresAt });
    expect((await through('Bearer secret')).statusCode).toBe(200);
    advance(999);
    expect(recent.admitRead('Bearer secret', log)).toBeDefined();
    advance(1);
    expect(recent.admitRead('Bearer secret', log)).toBeUndefined();
    await app.close();
  });

  it('an admitted read records the key’s use as the hook does: at most once a minute', async () => {
    const { app, recent, through, touch, log, advance } = await appWithRecentKeys();
    await through('Bearer secret');
    expect(touch).toHaveBeenCalledTimes(1);
    advance(LAST_USED_INTERVAL_MS - 1_000);
    await through('Bearer secret'); // looked up again (the cache's moment is over), not touched
    advance(999);
    recent.admitRead('Bearer secret', log);
    expect(touch).toHaveBeenCalledTimes(1);
    advance(1);
    recent.admitRead('Bearer secret', log);
    expect(touch).toHaveBeenCalledTimes(2);
    await app.close();
  });

  it('a principal whose stored hash is not the key’s is refused and never cached, whatever the store returned', async () => {
    const { app, recent, through, findActive, log } = await appWithRecentKeys({ keyHash: 'h:another' });
    // This app has no error handler (the service's maps the refusal to its 401): the refusal's words.
    const refused = await through('Bearer secret');
    expect(refused.statusCode).not.toBe(200);
    expect(refused.body).toContain('unknown or revoked API key');
    expect(recent.admitRead('Bearer secret', log)).toBeUndefined();
    expect((await through('Bearer secret')).body).toContain('unknown or revoked API key');
    expect(findActive).toHaveBeenCalledTimes(2);
    await app.close();
  });
});
