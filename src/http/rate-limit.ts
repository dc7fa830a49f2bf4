import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import {
  LIMIT_FIELD,
  limitField,
  POLICY_FIELD,
  type Policy,
  policyField,
  type Reading,
} from './rate-limit-headers.js';
import { connectRedisCounters, DEFAULT_REDIS_KEY_PREFIX } from './rate-limit-redis.js';
import type { RateLimitSetting } from './rate-limit-setting.js';
import { type CounterStore, memoryCounters, type WindowCount } from './rate-limit-store.js';

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

/** Statuses that a request with a key gets when the key did not authorize it. */
const REFUSED_KEY_STATUSES: ReadonlySet<number> = new Set([401, 403]);

/** What the budgets said about one request; written into the RateLimit fields when it is answered. */
interface RequestBudget {
  readonly readings: Reading[];
  /** The reading that refused the request (429), if one did. */
  exceeded?: Reading;
  /** Counted against the anonymous budget already (it came without a key). */
  anonymousCounted: boolean;
}

function isUnlimited(request: FastifyRequest): boolean {
  return UNLIMITED_ROUTES.has(request.routeOptions.url ?? '');
}

/** A non-empty Authorization header: auth treats an empty one as missing. */
function hasKey(request: FastifyRequest): boolean {
  return Boolean(request.headers.authorization);
}

function reading(policy: Policy, window: WindowCount): Reading {
  return {
    policy,
    remaining: Math.max(0, policy.rule.max - window.count),
    resetSeconds: Math.max(1, Math.ceil(window.resetMs / 1000)),
  };
}

const scopes = {
  key: 'for this API key',
  anonymous: 'from this address without a valid API key',
  ip: 'from this IP address',
} as const;

function tooManyRequests(budget: RequestBudget, exceeded: Reading): AppError {
  budget.exceeded = { ...exceeded, remaining: 0 };
  const { rule, name } = exceeded.policy;
  return new AppError(
    'RATE_LIMITED',
    `rate limit exceeded: at most ${rule.max} requests per ${rule.per} ${scopes[name]}; retry in ${exceeded.resetSeconds} s`,
    undefined,
    { 'Retry-After': String(exceeded.resetSeconds) },
  );
}

/** The policies in the order the fields list them: the request's own budget first. */
const ORDER = ['key', 'anonymous', 'ip'] as const;

/**
 * RateLimit-Policy names every budget this request counted against; RateLimit gives what is left
 * of each, or on a 429 only the budget that refused it (its `t` equals Retry-After). A budget whose
 * counting failed (Redis away) is left out: no headers rather than a full budget nobody counted.
 */
function writeFields(reply: FastifyReply, budget: RequestBudget): void {
  const readings = [...budget.readings].sort(
    (a, b) => ORDER.indexOf(a.policy.name) - ORDER.indexOf(b.policy.name),
  );
  if (readings.length === 0) return;
  reply.header(POLICY_FIELD, policyField(readings.map((r) => r.policy)));
  reply.header(LIMIT_FIELD, limitField(budget.exceeded ? [budget.exceeded] : readings));
}

/**
 * Per-key request budgets, and with the ilert preset a per-IP budget too (PLUGBOARD_RATE_LIMIT).
 * Over budget: 429 RATE_LIMITED with Retry-After; answers carry the RateLimit-Policy and
 * RateLimit fields of draft-ietf-httpapi-ratelimit-headers. Call it before authentication is
 * installed and before any route.
 *
 * - `ip` (ilert preset): every request from the address, counted before authentication.
 * - `anonymous`: requests from the address without a valid key. Those without a key are counted
 *   before authentication; those whose key is refused (401, or 403 for a read-only key) are
 *   counted when answered. Once it is spent, requests with a key from the address are refused
 *   too, before their key is looked up: guessing keys costs a database lookup each.
 * - `key`: each API key, counted after authentication (preParsing), before the body is read.
 * - Counters live in memory or in Redis; a Redis outage lets requests through, without headers.
 */
export async function installRateLimit(
  app: FastifyInstance,
  settings: RateLimitSettings | undefined,
): Promise<void> {
  if (!settings) return;
  // Loaded only when rate limits are on: @fastify/rate-limit (and the address parser it brings)
  // was a part of every server's start-up (issue 15).
  const { normalizeIP } = await import('@fastify/rate-limit');
  /** The client's address; IPv6 clients are counted by /64, as they usually own the whole prefix. */
  const clientAddress = (request: FastifyRequest): string => normalizeIP(request.ip);
  const keyPolicy: Policy = { name: 'key', rule: settings.setting.perKey };
  const anonymousPolicy: Policy = { name: 'anonymous', rule: settings.setting.perKey };
  const ipPolicy: Policy | undefined = settings.setting.perIp && { name: 'ip', rule: settings.setting.perIp };

  let counters: CounterStore;
  if (settings.redisUrl) {
    const redis = await connectRedisCounters(app.log, settings.redisUrl, {
      keyPrefix: settings.redisKeyPrefix ?? DEFAULT_REDIS_KEY_PREFIX,
      connectTimeoutMs: settings.redisConnectTimeoutMs ?? 3_000,
    });
    app.addHook('onClose', () => redis.close());
    counters = redis.counters;
  } else {
    counters = memoryCounters();
  }
  app.log.info(
    { rateLimit: settings.setting.description, counters: settings.redisUrl ? 'redis' : 'memory' },
    'rate limits are on',
  );

  const budgets = new WeakMap<FastifyRequest, RequestBudget>();

  /** Counts the request against `policy`; throws 429 when that spends more than the budget. */
  async function count(budget: RequestBudget, policy: Policy, key: string): Promise<void> {
    const window = await counters.hit(`${policy.name}:${key}`, policy.rule.windowMs);
    if (!window) return;
    const result = reading(policy, window);
    budget.readings.push(result);
    if (window.count > policy.rule.max) throw tooManyRequests(budget, result);
  }

  app.addHook('onRequest', async function beforeAuthentication(request) {
    if (isUnlimited(request)) return;
    const budget: RequestBudget = { readings: [], anonymousCounted: false };
    budgets.set(request, budget);
    const address = clientAddress(request);
    if (!hasKey(request)) {
      if (ipPolicy) await count(budget, ipPolicy, address);
      budget.anonymousCounted = true;
      await count(budget, anonymousPolicy, address);
      return;
    }
    const [, spent] = await Promise.all([
      ipPolicy ? count(budget, ipPolicy, address) : undefined,
      counters.peek(`${anonymousPolicy.name}:${address}`),
    ]);
    if (spent && spent.count >= anonymousPolicy.rule.max) {
      const result = reading(anonymousPolicy, spent);
      budget.readings.push(result);
      throw tooManyRequests(budget, result);
    }
  });

  // After every onRequest hook, authentication's included; before the body is read.
  app.addHook('preParsing', async (request) => {
    const budget = budgets.get(request);
    if (budget && request.principal) await count(budget, keyPolicy, request.principal.keyId);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const budget = budgets.get(request);
    if (!budget) return payload;
    if (!budget.anonymousCounted && hasKey(request) && REFUSED_KEY_STATUSES.has(reply.statusCode)) {
      budget.anonymousCounted = true;
      const window = await counters.hit(
        `${anonymousPolicy.name}:${clientAddress(request)}`,
        anonymousPolicy.rule.windowMs,
      );
      if (window) budget.readings.push(reading(anonymousPolicy, window));
    }
    writeFields(reply, budget);
    return payload;
  });
}
