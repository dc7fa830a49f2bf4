import { describe, expect, it } from 'vitest';
import {
  ILERT_RATE_LIMIT,
  parseRateLimit,
  REDIS_URL_UNUSED,
  warnIfRedisUrlUnused,
} from './rate-limit-setting.js';

describe('REDIS_URL without PLUGBOARD_RATE_LIMIT', () => {
  it.each([
    [undefined, 'redis://127.0.0.1:6379', [REDIS_URL_UNUSED]],
    [ILERT_RATE_LIMIT, 'redis://127.0.0.1:6379', []],
    [parseRateLimit('300/min'), undefined, []],
    [undefined, undefined, []],
  ])('rate limit %j, REDIS_URL %s: warns %j', (rateLimit, redisUrl, expected) => {
    const warnings: string[] = [];
    warnIfRedisUrlUnused({ rateLimit, redisUrl }, { warn: (message) => warnings.push(message) });
    expect(warnings).toEqual(expected);
  });

  it('says why it is unused and what to do', () => {
    expect(REDIS_URL_UNUSED).toContain('PLUGBOARD_RATE_LIMIT is unset');
    expect(REDIS_URL_UNUSED).toContain('unset REDIS_URL');
  });
});
