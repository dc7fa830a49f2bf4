import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCHEDULE,
  describeGivingUp,
  MAX_AGE_MS,
  nextAttemptAt,
  RETRY_PAUSES_MS,
} from './schedule.js';

const created = Date.parse('2026-12-04T10:00:00Z');
const middle = () => 0.5;

describe('nextAttemptAt', () => {
  it('waits the pause of the attempt that failed: 10 s after the first, 1 min after the second', () => {
    expect(nextAttemptAt(DEFAULT_SCHEDULE, 1, created, created, undefined, middle)).toBe(created + 10_000);
    expect(nextAttemptAt(DEFAULT_SCHEDULE, 2, created, created + 10_000, undefined, middle)).toBe(
      created + 70_000,
    );
  });

  it('jitters each pause by exactly ±20 %', () => {
    expect(nextAttemptAt(DEFAULT_SCHEDULE, 1, created, created, undefined, () => 0)).toBe(created + 8_000);
    expect(nextAttemptAt(DEFAULT_SCHEDULE, 1, created, created, undefined, () => 1)).toBe(created + 12_000);
  });

  it('rounds the moment to a whole millisecond', () => {
    expect(nextAttemptAt(DEFAULT_SCHEDULE, 1, created, created + 0.4, undefined, middle)).toBe(
      created + 10_000,
    );
  });

  it('waits as long as Retry-After asks when that is longer than the pause, and the pause when it is not', () => {
    expect(nextAttemptAt(DEFAULT_SCHEDULE, 1, created, created, 30_000, middle)).toBe(created + 30_000);
    expect(nextAttemptAt(DEFAULT_SCHEDULE, 1, created, created, 5_000, middle)).toBe(created + 10_000);
  });

  it('gives up after the tenth attempt: nine pauses', () => {
    expect(RETRY_PAUSES_MS).toHaveLength(9);
    const schedule = { pausesMs: RETRY_PAUSES_MS, maxAgeMs: Number.POSITIVE_INFINITY };
    expect(nextAttemptAt(schedule, 9, created, created, undefined, middle)).toBe(created + 8 * 3600_000);
    expect(nextAttemptAt(schedule, 10, created, created, undefined, middle)).toBeUndefined();
  });

  it('an attempt may start exactly MAX_AGE_MS after the delivery was accepted, not a millisecond later', () => {
    const schedule = { pausesMs: [10_000], maxAgeMs: MAX_AGE_MS };
    const now = created + MAX_AGE_MS - 10_000;
    expect(nextAttemptAt(schedule, 1, created, now, undefined, middle)).toBe(created + MAX_AGE_MS);
    expect(nextAttemptAt(schedule, 1, created, now + 1, undefined, middle)).toBeUndefined();
  });

  it('the nine pauses without jitter end within MAX_AGE_MS (about 23.5 hours; the jitter may cut the last)', () => {
    const total = RETRY_PAUSES_MS.reduce((sum, pause) => sum + pause, 0);
    expect(total).toBe(((23 * 60 + 26) * 60 + 10) * 1000); // 23 h 26 min 10 s
    expect(total).toBeLessThanOrEqual(MAX_AGE_MS);
  });
});

describe('describeGivingUp', () => {
  it.each([
    [10, 23.4 * 3600_000, 'gave up after 10 attempts over 23 h'],
    [3, 3600_000, 'gave up after 3 attempts over 1 h'],
    [2, 3600_000 - 1, 'gave up after 2 attempts over 60 min'],
    [2, 90 * 60_000, 'gave up after 2 attempts over 2 h'],
    [1, 0, 'gave up after 1 attempt over 1 min'],
    [2, 29_000, 'gave up after 2 attempts over 1 min'],
    [2, 5 * 60_000, 'gave up after 2 attempts over 5 min'],
  ])('%i attempts over %i ms: %s', (attempts, span, expected) => {
    expect(describeGivingUp(attempts, created, created + span)).toBe(expected);
  });
});
