import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../errors.js';
import { type CheckConcurrency, CheckLimiter, DEFAULT_CHECK_CONCURRENCY } from './limit.js';

const T0 = Date.UTC(2026, 0, 1);
const TIMEOUT_MS = 10_000;

/** A check that runs until `end` is called. */
function held(): { check: () => Promise<string>; end: (value?: string) => void } {
  let end: (value?: string) => void = () => undefined;
  const done = new Promise<string>((resolve) => {
    end = (value = 'done') => resolve(value);
  });
  return { check: () => done, end };
}

/** What `run` threw, as the AppError it must be. */
async function refusal(run: Promise<unknown>): Promise<AppError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** Starts a held check for `key` and returns its end. */
function start(limiter: CheckLimiter, key: string): { end: () => void; result: Promise<string> } {
  const { check, end } = held();
  return { end, result: limiter.run(key, check) };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => vi.useRealTimers());

describe('CheckLimiter bounds', () => {
  it('defaults to 4 checks per key and 16 per process', () => {
    expect(DEFAULT_CHECK_CONCURRENCY).toEqual({ perKey: 4, perProcess: 16 });
  });

  it.each([
    [{ perKey: 0, perProcess: 16 }, /perKey must be a positive integer or Infinity, not 0$/],
    [{ perKey: 4, perProcess: -1 }, /perProcess must be a positive integer or Infinity, not -1$/],
    [{ perKey: 1.5, perProcess: 16 }, /perKey .* not 1\.5$/],
    [{ perKey: Number.NaN, perProcess: 16 }, /perKey .* not NaN$/],
    [{ perKey: 4, perProcess: 2 ** 53 }, /perProcess .* not 9007199254740992$/],
  ])('refuses %j', (bounds: CheckConcurrency, message: RegExp) => {
    expect(() => new CheckLimiter(bounds, TIMEOUT_MS)).toThrow(message);
  });

  it('accepts a bound of exactly 1, and Infinity', () => {
    expect(() => new CheckLimiter({ perKey: 1, perProcess: 1 }, TIMEOUT_MS)).not.toThrow();
    expect(
      () =>
        new CheckLimiter(
          { perKey: Number.POSITIVE_INFINITY, perProcess: Number.POSITIVE_INFINITY },
          TIMEOUT_MS,
        ),
    ).not.toThrow();
  });
});

describe('CheckLimiter per key', () => {
  it('runs exactly perKey checks of one key at once; the next gets 429 with Retry-After', async () => {
    const limiter = new CheckLimiter({ perKey: 2, perProcess: 16 }, TIMEOUT_MS);
    const a = start(limiter, 'k1');
    const b = start(limiter, 'k1');
    vi.setSystemTime(T0 + 2_500);
    const refused = await refusal(limiter.run('k1', async () => 'never'));
    expect(refused.code).toBe('RATE_LIMITED');
    expect(refused.message).toBe(
      'too many checks at once: at most 2 credential checks run at a time for one API key; retry in 8 s, when one of them has ended',
    );
    expect(refused.headers).toEqual({ 'Retry-After': '8' });
    a.end();
    b.end();
    expect(await a.result).toBe('done');
    expect(await b.result).toBe('done');
  });

  it('counts each key apart: a key at its bound does not hold back another key', async () => {
    const limiter = new CheckLimiter({ perKey: 1, perProcess: 16 }, TIMEOUT_MS);
    const a = start(limiter, 'k1');
    expect(await limiter.run('k2', async () => 'other key')).toBe('other key');
    await refusal(limiter.run('k1', async () => 'never'));
    a.end();
    await a.result;
  });

  it('a check that ended frees its place, and the key is still bounded by the checks left', async () => {
    const limiter = new CheckLimiter({ perKey: 2, perProcess: 16 }, TIMEOUT_MS);
    const a = start(limiter, 'k1');
    const b = start(limiter, 'k1');
    a.end();
    await a.result;
    const c = start(limiter, 'k1');
    // b and c run: the key is at its bound again.
    await refusal(limiter.run('k1', async () => 'never'));
    b.end();
    c.end();
    await Promise.all([b.result, c.result]);
  });

  it('a check that failed frees its place too, and its error reaches the caller', async () => {
    const limiter = new CheckLimiter({ perKey: 1, perProcess: 1 }, TIMEOUT_MS);
    await expect(limiter.run('k1', () => Promise.reject(new Error('target down')))).rejects.toThrow(
      'target down',
    );
    expect(await limiter.run('k1', async () => 'again')).toBe('again');
  });

  it('two checks started in the same millisecond each free their own place', async () => {
    const limiter = new CheckLimiter({ perKey: 2, perProcess: 2 }, TIMEOUT_MS);
    const a = start(limiter, 'k1');
    const b = start(limiter, 'k1');
    a.end();
    await a.result;
    b.end();
    await b.result;
    const c = start(limiter, 'k1');
    const d = start(limiter, 'k1');
    c.end();
    d.end();
    await Promise.all([c.result, d.result]);
  });

  it('forgets a key once its last check ended (no entry per key ever seen)', async () => {
    const limiter = new CheckLimiter({ perKey: 2, perProcess: 16 }, TIMEOUT_MS);
    const a = start(limiter, 'k1');
    const b = start(limiter, 'k1');
    a.end();
    await a.result;
    expect(Reflect.get(limiter, 'byKey')).toEqual(new Map([['k1', [T0]]]));
    b.end();
    await b.result;
    expect(Reflect.get(limiter, 'byKey')).toEqual(new Map());
  });
});

describe('CheckLimiter per process', () => {
  it('runs exactly perProcess checks over all keys; the next gets 503 with Retry-After', async () => {
    const limiter = new CheckLimiter({ perKey: 4, perProcess: 2 }, TIMEOUT_MS);
    const a = start(limiter, 'k1');
    const b = start(limiter, 'k2');
    vi.setSystemTime(T0 + 4_000);
    const refused = await refusal(limiter.run('k3', async () => 'never'));
    expect(refused.code).toBe('SERVICE_UNAVAILABLE');
    expect(refused.message).toBe(
      'too many checks at once: at most 2 credential checks run at a time on this server; retry in 6 s',
    );
    expect(refused.headers).toEqual({ 'Retry-After': '6' });
    a.end();
    await a.result;
    // One place free again, for any key.
    expect(await limiter.run('k3', async () => 'admitted')).toBe('admitted');
    b.end();
    await b.result;
  });

  it('the per-key bound is answered first when both are reached', async () => {
    const limiter = new CheckLimiter({ perKey: 1, perProcess: 1 }, TIMEOUT_MS);
    const a = start(limiter, 'k1');
    expect((await refusal(limiter.run('k1', async () => 'never'))).code).toBe('RATE_LIMITED');
    expect((await refusal(limiter.run('k2', async () => 'never'))).code).toBe('SERVICE_UNAVAILABLE');
    a.end();
    await a.result;
  });
});

describe('Retry-After', () => {
  async function retryAfter(startsAt: readonly number[], refusedAt: number): Promise<string | undefined> {
    const limiter = new CheckLimiter({ perKey: startsAt.length, perProcess: 16 }, TIMEOUT_MS);
    const running = startsAt.map((at) => {
      vi.setSystemTime(at);
      return start(limiter, 'k1');
    });
    vi.setSystemTime(refusedAt);
    const refused = await refusal(limiter.run('k1', async () => 'never'));
    for (const { end } of running) end();
    await Promise.all(running.map(({ result }) => result));
    return refused.headers?.['Retry-After'];
  }

  it('is when the oldest running check reaches its deadline, not the newest', async () => {
    expect(await retryAfter([T0, T0 + 3_000], T0 + 4_000)).toBe('6');
  });

  it('rounds a part of a second up', async () => {
    expect(await retryAfter([T0], T0 + 9_001)).toBe('1');
    expect(await retryAfter([T0], T0 + 1)).toBe('10');
  });

  it('is at least 1 s, also when the oldest check is past its deadline', async () => {
    expect(await retryAfter([T0], T0 + 10_000)).toBe('1');
    expect(await retryAfter([T0], T0 + 25_000)).toBe('1');
  });
});
