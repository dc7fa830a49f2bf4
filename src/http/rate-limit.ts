import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../errors.js';
import type { RateLimitRule, RateLimitSetting } from './rate-limit-setting.js';

export interface RateLimitSettings {
  readonly setting: RateLimitSetting;
  /** Counters in Redis (REDIS_URL), shared by every server that uses it; unset: in memory. */
  readonly redisUrl?: string;
  /** Prefix of the counters' keys in Redis. */
  readonly redisKeyPrefix?: string;
  /** How long start waits for Redis to answer. */
  readonly redisConnectTimeoutMs?: number;
}

/** Routes that are never limited: load balancers and client generators call them freely. */
export const UNLIMITED_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/api/openapi.json']);
export const DEFAULT_REDIS_KEY_PREFIX = 'plugboard:rate-limit:';
/** A Redis command slower than this fails, and the request goes through uncounted. */
const REDIS_COMMAND_TIMEOUT_MS = 500;

function isUnlimited(request: FastifyRequest): boolean {
  return UNLIMITED_ROUTES.has(request.routeOptions.url ?? '');
}

/** The client's address; IPv6 clients are counted by /64, as they usually own the whole prefix. */
function clientAddress(request: FastifyRequest): string {
  return fastifyRateLimit.normalizeIP(request.ip);
}

function tooManyRequests(rule: RateLimitRule, scope: string, ttlMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return new AppError(
    429,
    'RATE_LIMITED',
    `rate limit exceeded: at most ${rule.max} requests per ${rule.per} ${scope}; retry in ${seconds} s`,
    undefined,
    { 'Retry-After': String(seconds) },
  );
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'REDIS_URL';
  }
}

/**
 * Connects to Redis and checks that it answers; throws with a message naming REDIS_URL if not.
 * Start fails rather than counting in memory: with several servers a silent fallback would
 * multiply every budget by their number, and a wrong REDIS_URL would go unnoticed.
 */
async function connectRedis(
  app: FastifyInstance,
  url: string,
  timeoutMs: number,
): Promise<{ client: Redis; close(): Promise<void> }> {
  // Loaded only here: most servers count in memory, and ioredis costs start-up time.
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: 'plugboard-rate-limit',
    connectTimeout: timeoutMs,
    // While Redis is away a command fails at once (the request then goes through uncounted)
    // instead of waiting in a queue for a reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let lastError: Error | undefined;
  let running = false;
  let healthy = false;
  function lost(error: Error | undefined): void {
    if (!running || !healthy) return;
    healthy = false;
    app.log.warn(
      { err: error },
      'Redis for rate limits does not answer: requests go through uncounted until it is back',
    );
  }
  client.on('error', (error: Error) => {
    lastError = error;
    lost(error);
  });
  client.on('close', () => lost(lastError));
  client.on('ready', () => {
    if (!running || healthy) return;
    healthy = true;
    app.log.info('Redis for rate limits answers again');
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    const cause = lastError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      `REDIS_URL is set, but Redis at ${redactUrl(url)} does not answer (${reason}); start Redis, fix REDIS_URL, or unset it to count requests in memory`,
    );
  }
  running = true;
  healthy = true;
  return {
    client,
    async close() {
      running = false;
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * Per-key request budgets, and with the ilert preset a per-IP budget too (PLUGBOARD_RATE_LIMIT).
 * Over budget: 429 RATE_LIMITED with Retry-After and the IETF RateLimit-* headers. Call it
 * before authentication is installed and before any route.
 *
 * - The per-key budget is @fastify/rate-limit's route-level `onRequest` hook; route-level hooks
 *   run after the app-level ones, so after authentication has set `request.principal`.
 *   Requests that carry no key at all are counted earlier, by address, against the same budget
 *   (authentication would refuse them before the route hook runs).
 * - The per-IP budget is a second limiter of the same plugin (`createRateLimit`), checked
 *   before authentication, for every request from the address, keys or not.
 * - Counters live in memory or in Redis; a Redis outage lets requests through (skipOnError).
 */
export async function installRateLimit(
  app: FastifyInstance,
  settings: RateLimitSettings | undefined,
): Promise<void> {
  if (!settings) return;
  const { perKey, perIp } = settings.setting;
  const redis = settings.redisUrl
    ? await connectRedis(app, settings.redisUrl, settings.redisConnectTimeoutMs ?? 3_000)
    : undefined;
  if (redis) app.addHook('onClose', () => redis.close());

  await app.register(fastifyRateLimit, {
    global: true,
    hook: 'onRequest',
    max: perKey.max,
    timeWindow: perKey.windowMs,
    keyGenerator: (request) =>
      request.principal ? `key:${request.principal.keyId}` : `anonymous:${clientAddress(request)}`,
    allowList: (request) => isUnlimited(request),
    errorResponseBuilder: (request, context) =>
      tooManyRequests(
        perKey,
        request.principal ? 'for this API key' : 'from this address without an API key',
        context.ttl,
      ),
    enableDraftSpec: true,
    skipOnError: true,
    cache: 10_000,
    ...(redis ? { redis: redis.client, nameSpace: settings.redisKeyPrefix ?? DEFAULT_REDIS_KEY_PREFIX } : {}),
  });

  app.log.info(
    { rateLimit: settings.setting.description, counters: redis ? 'redis' : 'memory' },
    'rate limits are on',
  );

  // The same limiter as the route hook: a request is counted once, whichever runs first.
  const countPerKey = app.rateLimit();
  const countPerIp = perIp
    ? app.createRateLimit({
        max: perIp.max,
        timeWindow: perIp.windowMs,
        keyGenerator: (request) => `ip:${clientAddress(request)}`,
      })
    : undefined;

  app.addHook('onRequest', async function beforeAuthentication(request: FastifyRequest, reply: FastifyReply) {
    if (isUnlimited(request)) return;
    if (perIp && countPerIp) {
      const result = await countPerIp(request);
      if (!result.isAllowed && result.isExceeded) {
        reply.headers({
          'ratelimit-limit': perIp.max,
          'ratelimit-remaining': 0,
          'ratelimit-reset': result.ttlInSeconds,
          'retry-after': result.ttlInSeconds,
        });
        throw tooManyRequests(perIp, 'from this IP address', result.ttl);
      }
    }
    if (!request.headers.authorization) await countPerKey.call(this, request, reply);
  });
}
