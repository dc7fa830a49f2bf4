import { AppError, errors } from '../../errors.js';

/** How many credential checks may run at once. */
export interface CheckConcurrency {
  /** Checks at once for one API key; the next gets 429. */
  readonly perKey: number;
  /** Checks at once in this process, over all keys; the next gets 503. */
  readonly perProcess: number;
}

/**
 * A check holds an outbound connection and its answer (up to 1 MiB) for up to its deadline: a
 * person checks a connector or two at a time, a console a page of them. Eight hostile checks at
 * once from one key took another tenant's median from 1.6 ms to 42 ms (issue 11, finding 1).
 */
export const DEFAULT_CHECK_CONCURRENCY: CheckConcurrency = { perKey: 4, perProcess: 16 };

/**
 * Admits checks up to the per-key and per-process bounds and refuses the rest at once, saying
 * which bound and when to retry: when the oldest running check of that bound must have ended (a
 * check never outlives its deadline), at least 1 s.
 */
export class CheckLimiter {
  /** Start times (epoch ms) of the running checks, by API key id. */
  private readonly byKey = new Map<string, number[]>();
  private readonly running: number[] = [];

  constructor(
    private readonly bounds: CheckConcurrency,
    /** The longest a check runs (its deadline), in ms. */
    private readonly timeoutMs: number,
  ) {
    for (const [name, value] of Object.entries(bounds)) {
      if (!(value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value >= 1)))
        throw new Error(`check concurrency: ${name} must be a positive integer or Infinity, not ${value}`);
    }
  }

  /** Runs `check` for `keyId` when both bounds admit it; otherwise throws the 429 or 503. */
  async run<T>(keyId: string, check: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const mine = this.byKey.get(keyId) ?? [];
    if (mine.length >= this.bounds.perKey) {
      const retry = this.retryAfter(mine, now);
      throw new AppError(
        'RATE_LIMITED',
        `too many checks at once: at most ${this.bounds.perKey} credential checks run at a time for one API key; retry in ${retry} s, when one of them has ended`,
        undefined,
        { 'Retry-After': String(retry) },
      );
    }
    if (this.running.length >= this.bounds.perProcess) {
      const retry = this.retryAfter(this.running, now);
      throw errors.unavailable(
        `too many checks at once: at most ${this.bounds.perProcess} credential checks run at a time on this server; retry in ${retry} s`,
        retry,
      );
    }
    mine.push(now);
    this.byKey.set(keyId, mine);
    this.running.push(now);
    try {
      return await check();
    } finally {
      remove(mine, now);
      if (mine.length === 0) this.byKey.delete(keyId);
      remove(this.running, now);
    }
  }

  /** Seconds until the oldest of `starts` has passed its deadline (starts are in order of arrival). */
  private retryAfter(starts: readonly number[], now: number): number {
    const oldest = starts[0] ?? now;
    return Math.max(1, Math.ceil((oldest + this.timeoutMs - now) / 1000));
  }
}

function remove(starts: number[], start: number): void {
  const at = starts.indexOf(start);
  // Stryker disable next-line ConditionalExpression: equivalent: each start removed was pushed by the same run
  if (at >= 0) starts.splice(at, 1);
}
