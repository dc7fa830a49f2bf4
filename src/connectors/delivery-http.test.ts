import { describe, expect, it } from 'vitest';
import type { TargetResponse } from './checks/http.js';
import { isTransientStatus, judgeDelivery, retryAfterMs } from './delivery-http.js';

function response(status: number, headers: Record<string, string> = {}): TargetResponse {
  return { status, statusMessage: '', headers, body: '', url: 'https://x.example', said: undefined };
}

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-04T10:00:00Z');
  it.each([
    ['120', 120_000],
    ['0', 0],
    ['1.5', 1_500],
    ['Fri, 04 Dec 2026 10:00:30 GMT', 30_000],
    ['Fri, 04 Dec 2026 09:00:00 GMT', 0],
  ])('reads %j as %i ms', (value, expected) => {
    expect(retryAfterMs(value, now)).toBe(expected);
  });
  it.each([undefined, '', 'soon', '-5', '12abc'])('reads %j as nothing', (value) => {
    expect(retryAfterMs(value, now)).toBeUndefined();
  });
});

describe('judgeDelivery', () => {
  it.each([200, 201, 204, 299])('%i is delivered', (status) => {
    expect(judgeDelivery(response(status), 'X')).toMatchObject({ result: 'delivered', httpStatus: status });
  });
  it.each([408, 425, 429, 500, 502, 503, 504, 599])('%i is retried', (status) => {
    expect(isTransientStatus(status)).toBe(true);
    expect(judgeDelivery(response(status), 'X')).toMatchObject({ result: 'retry', httpStatus: status });
  });
  it.each([300, 400, 401, 403, 404, 409, 410, 413, 422, 499])('%i is a permanent failure', (status) => {
    expect(isTransientStatus(status)).toBe(false);
    expect(judgeDelivery(response(status), 'X')).toMatchObject({ result: 'failed', httpStatus: status });
  });
  it('honours Retry-After on a 429 and a 503', () => {
    expect(judgeDelivery(response(429, { 'retry-after': '7' }), 'X')).toMatchObject({ retryAfterMs: 7_000 });
    expect(judgeDelivery(response(503, { 'retry-after': '0' }), 'X')).toMatchObject({ retryAfterMs: 0 });
  });
  it('says to check the credentials on 401 and 403', () => {
    expect(judgeDelivery(response(401), 'Jira').message).toMatch(/^Jira answered HTTP 401.*credentials/);
  });
});
