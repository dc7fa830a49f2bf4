import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { CounterStore, WindowCount } from './rate-limit-store.js';

export const DEFAULT_REDIS_KEY_PREFIX = 'plugboard:rate-limit:';
/** A Redis command slower than this fails, and the request goes through uncounted. */
const REDIS_COMMAND_TIMEOUT_MS = 500;

/** Counts one request; the first of a window (or a key left without expiry) sets the window. */
const HIT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

const PEEK = `
local count = redis.call('GET', KEYS[1])
if not count then return {0, 0} end
return {tonumber(count), math.max(redis.call('PTTL', KEYS[1]), 0)}`;

function toWindow(answer: unknown): WindowCount {
  if (Array.isArray(answer) && typeof answer[0] === 'number' && typeof answer[1] === 'number') {
    return { count: answer[0], resetMs: answer[1] };
  }
  throw new Error('Redis answered a rate-limit script with an unexpected value');
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

export interface RedisCounters {
  readonly counters: CounterStore;
  close(): Promise<void>;
}

/**
 * Connects to Redis and checks that it answers; throws with a message naming REDIS_URL if not.
 * Start fails rather than counting in memory: with several servers a silent fallback would
 * multiply every budget by their number, and a wrong REDIS_URL would go unnoticed.
 * Counters are stored under `keyPrefix` + `<policy>:<key id or address>`.
 */
export async function connectRedisCounters(
  log: FastifyBaseLogger,
  url: string,
  { keyPrefix, connectTimeoutMs }: { keyPrefix: string; connectTimeoutMs: number },
): Promise<RedisCounters> {
  // Loaded only here: most servers count in memory, and ioredis costs start-up time.
  const { Redis } = await import('ioredis');
  const client: Redis = new Redis(url, {
    lazyConnect: true,
    connectionName: 'plugboard-rate-limit',
    connectTimeout: connectTimeoutMs,
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
  function lost(error: unknown): void {
    if (!running || !healthy) return;
    healthy = false;
    log.warn(
      { err: error },
      'Redis for rate limits does not answer: requests go through uncounted until it is back',
    );
  }
  function answered(): void {
    if (!running || healthy) return;
    healthy = true;
    log.info('Redis for rate limits answers again');
  }
  client.on('error', (error: Error) => {
    lastError = error;
    lost(error);
  });
  client.on('close', () => lost(lastError));
  client.on('ready', answered);
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

  async function run(script: string, key: string, ...args: number[]): Promise<WindowCount | undefined> {
    try {
      const window = toWindow(await client.eval(script, 1, keyPrefix + key, ...args));
      answered();
      return window;
    } catch (error) {
      lost(error);
      return undefined;
    }
  }
  return {
    counters: {
      hit: (key, windowMs) => run(HIT, key, windowMs),
      peek: (key) => run(PEEK, key),
    },
    async close() {
      running = false;
      await client.quit().catch(() => client.disconnect());
    },
  };
}
