import { hash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { hashesEqual } from '../auth/api-keys.js';
import { type AppError, errors } from '../errors.js';
import type { KeyPrincipal, KeyStore } from '../store/key-store.js';
import { isLockBusy } from '../store/sqlite-database.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key the request authenticated with; set on every authenticated route. */
    principal: KeyPrincipal | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a key (the OpenAPI document). */
    public?: boolean;
    /** GET routes that read keys may not use (the audit trail). */
    writeKeysOnly?: boolean;
    /** Routes outside /api that need a key all the same (/metrics with PLUGBOARD_METRICS=key). */
    keyRequired?: boolean;
  }
}

/** How long a key lookup is reused: a revoked key stops working within this time. */
export const KEY_CACHE_TTL_MS = 2_000;
/** How often a key's "last used" time is written, at most. */
export const LAST_USED_INTERVAL_MS = 60_000;
const MAX_CACHED_KEYS = 10_000;
const readMethods = new Set(['GET', 'HEAD']);

export interface AuthOptions {
  readonly keys: KeyStore;
  readonly now?: () => number;
}

/** Keys looked up a moment ago, for a read answered outside Fastify's hooks (fast-reads.ts). */
export interface RecentKeys {
  /**
   * The principal a GET with this Authorization header is let in as, when its key was looked up
   * less than KEY_CACHE_TTL_MS ago and lets it in (not expired); its use is recorded as the hook
   * records it. Undefined in every other case: the hook decides (and answers any refusal).
   */
  admitRead(header: string | undefined, log: () => FastifyBaseLogger): KeyPrincipal | undefined;
}

const bearer = /^Bearer +(\S+) *$/i;

/**
 * Whether a route needs a key: every /api route not marked public, and any route marked
 * keyRequired (the OpenAPI document says so too).
 */
export function needsKey(
  url: string,
  config: { readonly public?: boolean; readonly keyRequired?: boolean },
): boolean {
  return (url.startsWith('/api/') && !config.public) || config.keyRequired === true;
}

/**
 * Bearer-key authentication for every /api route not marked public, and the read/write role
 * check. Lookups go by the key's keyed hash; hits are cached briefly so that a read costs no query,
 * misses are not, so that a key created a moment ago works at once. Returns the cache, for reads
 * answered outside the hooks.
 */
export function installAuth(app: FastifyInstance, { keys, now = Date.now }: AuthOptions): RecentKeys {
  /**
   * By a SHA-256 of the key salted with this process's own random bytes, not by the stored keyed
   * hash: that is an HKDF-keyed HMAC of a SHA-256 (two digests and an HMAC's set-up, 3.6 % of a
   * GET's CPU), paid now only on a miss. The salt makes these digests useless outside this process,
   * and the key itself is never kept.
   */
  const cache = new Map<string, { principal: KeyPrincipal; expires: number }>();
  const salt = randomBytes(16).toString('base64');
  const cacheKeyOf = (secret: string) => hash('sha256', `${salt}${secret}`, 'base64');
  const lastTouched = new Map<string, number>();

  /** The principal of a key looked up less than KEY_CACHE_TTL_MS ago. */
  function cachedPrincipal(cacheKey: string): KeyPrincipal | undefined {
    const cached = cache.get(cacheKey);
    return cached && cached.expires > now() ? cached.principal : undefined;
  }

  async function lookup(secret: string, cacheKey: string): Promise<KeyPrincipal | undefined> {
    const principal = await keys.findActive(secret);
    if (!principal || !hashesEqual(principal.keyHash, keys.hash(secret))) {
      cache.delete(cacheKey);
      return undefined;
    }
    // A memory bound only: no test creates 10,000 keys, so `>` for `>=` or never clearing goes unnoticed.
    if (cache.size >= MAX_CACHED_KEYS) cache.clear();
    cache.set(cacheKey, { principal, expires: now() + KEY_CACHE_TTL_MS });
    return principal;
  }

  /** Whether a key that was let in has expired since (its lookup is cached for a moment). */
  const hasExpired = (principal: KeyPrincipal) =>
    // `expiresAt !== null` is for the reader and the types: Date.parse(null) is NaN, never <= now.
    principal.expiresAt !== null && Date.parse(principal.expiresAt) <= now();

  function recordUse(log: () => FastifyBaseLogger, principal: KeyPrincipal): void {
    const at = now();
    if (at - (lastTouched.get(principal.keyId) ?? 0) < LAST_USED_INTERVAL_MS) return;
    if (lastTouched.size >= MAX_CACHED_KEYS) lastTouched.clear(); // a memory bound, as above
    lastTouched.set(principal.keyId, at);
    keys.touch(principal.keyId, new Date(at).toISOString()).catch((error: unknown) => {
      if (isLockBusy(error)) {
        // Another process holds the write lock: touch does not wait for it; a later request records the use.
        // Only if no later use has set it since (a race no test stages: deleting always survives).
        if (lastTouched.get(principal.keyId) === at) lastTouched.delete(principal.keyId);
        log().debug('API key last use not recorded: the database is busy');
        return;
      }
      log().warn({ err: error }, 'could not record when an API key was last used');
    });
  }

  // Gives every request the property up front (a stable object shape); the hook sets it either way,
  // so no test can tell this line from its absence.
  // Stryker disable next-line StringLiteral: equivalent (see above)
  app.decorateRequest('principal', null);
  /** Lets the request in as `principal`, or says why not. */
  function admit(
    request: FastifyRequest,
    route: string,
    writeKeysOnly: boolean | undefined,
    principal: KeyPrincipal | undefined,
  ): AppError | undefined {
    if (!principal) return errors.unauthorized('unknown or revoked API key', true);
    if (hasExpired(principal)) {
      return errors.unauthorized(
        `this API key expired at ${principal.expiresAt}; create a new one with plugboard keys create`,
        true,
      );
    }
    request.principal = principal;
    recordUse(() => request.log, principal);
    if (principal.role !== 'write' && !readMethods.has(request.method)) {
      return errors.forbidden(`this API key is read-only; ${request.method} needs a key with the write role`);
    }
    if (principal.role !== 'write' && writeKeysOnly) {
      return errors.forbidden(`this API key is read-only; ${route} needs a key with the write role`);
    }
    return undefined;
  }

  // A callback hook: a key looked up a moment ago lets the request in without a promise or a turn
  // of the microtask queue.
  app.addHook('onRequest', (request, _reply, done) => {
    // By the matched route, not the raw URL: `/%61pi/connectors` routes to `/api/connectors` too.
    // Read once: each read of routeOptions builds a new object of a dozen fields.
    const { url: route, config } = request.routeOptions;
    if (route === undefined || !needsKey(route, config)) return done();
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      return done(errors.unauthorized('missing API key: send the header Authorization: Bearer <key>', false));
    }
    const secret = bearer.exec(header)?.[1];
    if (!secret) {
      return done(
        errors.unauthorized('malformed Authorization header: expected Authorization: Bearer <key>', true),
      );
    }
    const cacheKey = cacheKeyOf(secret);
    const cached = cachedPrincipal(cacheKey);
    if (cached) return done(admit(request, route, config.writeKeysOnly, cached));
    lookup(secret, cacheKey).then(
      (principal) => done(admit(request, route, config.writeKeysOnly, principal)),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  });

  return {
    admitRead(header, log) {
      if (header === undefined) return undefined;
      const secret = bearer.exec(header)?.[1];
      if (!secret) return undefined;
      const principal = cachedPrincipal(cacheKeyOf(secret));
      if (!principal || hasExpired(principal)) return undefined;
      recordUse(log, principal);
      return principal;
    },
  };
}

/** The authenticated principal of a request on a protected route. */
export function principalOf(request: FastifyRequest): KeyPrincipal {
  // Unreachable from the routes (each calls this only behind the hook, which sets the principal or
  // refuses); it makes the type non-null and fails closed should a route ever be registered otherwise
  // (src/http/auth.test.ts registers one).
  if (!request.principal)
    throw errors.unauthorized('missing API key: send the header Authorization: Bearer <key>', false);
  return request.principal;
}
