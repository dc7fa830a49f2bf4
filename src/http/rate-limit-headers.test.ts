import { describe, expect, it } from 'vitest';
import { limitField, type Policy, policyField } from './rate-limit-headers.js';
import { ILERT_RATE_LIMIT } from './rate-limit-setting.js';

const key: Policy = { name: 'key', rule: ILERT_RATE_LIMIT.perKey };
const ip: Policy = { name: 'ip', rule: { max: 700, windowMs: 60_000, per: 'minute' } };
const perSecond: Policy = { name: 'anonymous', rule: { max: 5, windowMs: 1_000, per: 'second' } };
const perHour: Policy = { name: 'key', rule: { max: 9000, windowMs: 3_600_000, per: 'hour' } };

describe('RateLimit fields (draft-ietf-httpapi-ratelimit-headers)', () => {
  it.each([
    [[key], '"key";q=120;w=60'],
    [[key, ip], '"key";q=120;w=60, "ip";q=700;w=60'],
    [[perSecond], '"anonymous";q=5;w=1'],
    [[perHour], '"key";q=9000;w=3600'],
  ])('RateLimit-Policy of %j is %s', (policies, expected) => {
    expect(policyField(policies)).toBe(expected);
  });

  it.each([
    [[{ policy: key, remaining: 117, resetSeconds: 42 }], '"key";r=117;t=42'],
    [
      [
        { policy: key, remaining: 0, resetSeconds: 3 },
        { policy: ip, remaining: 650, resetSeconds: 59 },
      ],
      '"key";r=0;t=3, "ip";r=650;t=59',
    ],
  ])('RateLimit of %j is %s', (readings, expected) => {
    expect(limitField(readings)).toBe(expected);
  });
});
