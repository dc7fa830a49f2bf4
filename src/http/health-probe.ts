/** How old a /healthz answer may be before the database is probed again. */
export const HEALTH_MAX_AGE_MS = 1_000;

export interface HealthAnswer {
  /** Whether the database took the probe (SQLite: its write lock; PostgreSQL: a writable answer in 3 s). */
  readonly ok: boolean;
  /** Why not, when not. */
  readonly error?: unknown;
  /** How long ago the probe that gave this answer finished. */
  readonly ageMs: number;
  /** True for the request whose probe found it; false for the answers reused after it. */
  readonly fresh: boolean;
}

/**
 * The database probe behind /healthz, at most one at a time, and after a success at most one per
 * `maxAgeMs`: the calls meanwhile get that answer and its age. A probe takes SQLite's write lock,
 * and /healthz needs no key, is never rate-limited and is exempt from the overload guard; probed on
 * every call, a flood of /healthz at 2,400/s cut create throughput by a third. A failure is not
 * reused beyond the calls that waited for its probe: the next call probes again (one at a time),
 * so the first answer after the database is back is a 200.
 */
export function createHealthProbe(
  ping: () => Promise<void>,
  { maxAgeMs = HEALTH_MAX_AGE_MS, now = Date.now }: { maxAgeMs?: number; now?: () => number } = {},
): () => Promise<HealthAnswer> {
  let lastSuccess: number | undefined;
  let running: Promise<HealthAnswer> | undefined;

  async function probe(): Promise<HealthAnswer> {
    try {
      await ping();
      lastSuccess = now();
      return { ok: true, ageMs: 0, fresh: true };
    } catch (error) {
      lastSuccess = undefined;
      return { ok: false, error, ageMs: 0, fresh: true };
    }
  }

  return async () => {
    if (lastSuccess !== undefined && now() - lastSuccess < maxAgeMs) {
      return { ok: true, ageMs: now() - lastSuccess, fresh: false };
    }
    if (running) return { ...(await running), fresh: false };
    running = probe().finally(() => {
      running = undefined;
    });
    return running;
  };
}
