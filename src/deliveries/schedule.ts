/**
 * When a delivery that failed transiently is tried again.
 *
 * The pauses after each failed attempt: 10 s, 1 min, 5 min, 20 min, 1 h, 2 h, 4 h, 8 h, 8 h; ten
 * attempts over about 23.5 hours, each pause ±20 % (jitter, so that deliveries which failed
 * together, say during a target's outage, do not all come back in the same second), and never
 * sooner than the target's `Retry-After` asks. After the tenth attempt, or when the next one would
 * start more than MAX_AGE_MS after the delivery was accepted, it is `failed`.
 *
 * Against the anchors (../shared/design/deliveries.md):
 * - Svix retries 8 times over ~27 h (now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). We keep its
 *   shape, a quick second try then pauses growing to hours, ending after about a day, with more
 *   attempts in the first hour (10 s, 1 min, 5 min, 20 min): alerts go stale faster than webhooks,
 *   and a target back after a 15-minute blip should get the alert within minutes, not at 30 min.
 * - Kibana's connectors try 3 times: one restart of Jira or a rate limit lasting a minute loses
 *   the alert. Ours outlasts a night's outage of a ticket system.
 * - Knock tries up to 8 times within 30 minutes: a target down for a maintenance window of an hour
 *   loses everything; ours covers it and still gives up within a day, when an alert that never
 *   arrived is better reported as `failed` (and retried by hand: POST /api/deliveries/{id}/retry)
 *   than sent a day late.
 * Alertmanager re-sends a group itself at each group_interval while it fires; those are new
 * deliveries, and ticket targets comment on the alert's open ticket instead of opening another.
 */
export const RETRY_PAUSES_MS: readonly number[] = [
  10_000,
  60_000,
  5 * 60_000,
  20 * 60_000,
  60 * 60_000,
  2 * 3600_000,
  4 * 3600_000,
  8 * 3600_000,
  8 * 3600_000,
];

/** No attempt starts later than this after the delivery was accepted. */
export const MAX_AGE_MS = 26 * 3600_000;

/** ±20 %. */
const JITTER = 0.2;

export interface RetrySchedule {
  readonly pausesMs: readonly number[];
  readonly maxAgeMs: number;
}

export const DEFAULT_SCHEDULE: RetrySchedule = { pausesMs: RETRY_PAUSES_MS, maxAgeMs: MAX_AGE_MS };

/**
 * When attempt `attempts + 1` may start after `attempts` attempts, the last of which ended at
 * `now`: epoch ms, or undefined when the delivery gives up. `random` for tests.
 */
export function nextAttemptAt(
  schedule: RetrySchedule,
  attempts: number,
  createdAt: number,
  now: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  const pause = schedule.pausesMs[attempts - 1];
  if (pause === undefined) return undefined;
  const jittered = pause * (1 - JITTER + 2 * JITTER * random());
  const at = now + Math.max(jittered, retryAfterMs ?? 0);
  return at - createdAt > schedule.maxAgeMs ? undefined : Math.round(at);
}

/** "10 attempts over 23 h", for the message of a delivery that gave up. */
export function describeGivingUp(attempts: number, createdAt: number, now: number): string {
  const hours = (now - createdAt) / 3600_000;
  const span = hours >= 1 ? `${Math.round(hours)} h` : `${Math.max(1, Math.round(hours * 60))} min`;
  return `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} over ${span}`;
}
