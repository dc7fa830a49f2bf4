import { describe, expect, it } from 'vitest';
import { OutboundError, type OutboundResponse } from '../outbound/types.js';
import { VERSION } from '../version.js';
import type { TargetResponse } from './checks/http.js';
import { Redactor } from './checks/redact.js';
import type { DeliveryRun } from './delivery.js';
import {
  DELIVERY_USER_AGENT,
  deliveryCall,
  isTransientStatus,
  judgeDelivery,
  readAnswer,
  retryAfterMs,
  sendAndJudge,
} from './delivery-http.js';

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

describe('the edges of retryAfterMs', () => {
  const now = Date.parse('2026-12-04T10:00:00Z');
  it.each([
    [' 120 ', 120_000],
    ['12.5', 12_500],
    ['1.25', 1_250],
  ])(
    'reads %j as %i ms (blanks around it, several digits on either side of the point)',
    (value, expected) => {
      expect(retryAfterMs(value, now)).toBe(expected);
    },
  );
  it.each(['x1.5', '1.5x', '1.5 s'])('reads %j, a number with text beside it, as nothing', (value) => {
    expect(retryAfterMs(value, now)).toBeUndefined();
  });
});

describe('the edges of judgeDelivery', () => {
  it('199, just below 2xx, is not delivered', () => {
    expect(judgeDelivery(response(199), 'X').result).toBe('failed');
  });
  it('says who answered what', () => {
    expect(judgeDelivery(response(200), 'Jira').message).toBe('Jira answered HTTP 200');
    expect(judgeDelivery(response(503), 'Jira').message).toBe('Jira answered HTTP 503');
  });
  it('a retry without Retry-After carries no retryAfterMs at all', () => {
    expect('retryAfterMs' in judgeDelivery(response(503), 'X')).toBe(false);
  });
  it('hints at the credentials on 403, at the URL on 404, and at nothing on other refusals', () => {
    expect(judgeDelivery(response(403), 'X').message).toBe(
      'X answered HTTP 403; check the credentials (POST /api/connectors/{id}/check)',
    );
    expect(judgeDelivery(response(404), 'X').message).toBe(
      'X answered HTTP 404; check the URL and the delivery options',
    );
    expect(judgeDelivery(response(400), 'X').message).toBe('X answered HTTP 400');
  });
});

/** A run whose outbound client answers `answer` (or throws it). */
function runAnswering(answer: OutboundResponse | OutboundError): DeliveryRun {
  return {
    http: {
      timeoutMs: 1_000,
      maxBytes: 1024 * 1024,
      request: async () => {
        if (answer instanceof OutboundError) throw answer;
        return answer;
      },
    },
    endpoints: {},
    deadline: Date.now() + 1_000,
    redactor: new Redactor(),
    answers: { maxChars: 64, maxDepth: 2, maxTokens: 16 },
  };
}

describe('deliveryCall and sendAndJudge', () => {
  const request = { method: 'POST' as const, url: 'https://x.example/hook' };
  const answer: OutboundResponse = {
    status: 201,
    statusMessage: 'Created',
    headers: {},
    body: '{"id":1}',
    url: 'https://x.example/hook',
  };

  it('an answer is returned as the response, and judged the usual way', async () => {
    const run = runAnswering(answer);
    const result = await deliveryCall(run, request);
    expect('response' in result && result.response.status).toBe(201);
    expect(await sendAndJudge(run, 'X', request)).toEqual({
      result: 'delivered',
      message: 'X answered HTTP 201',
      httpStatus: 201,
    });
  });

  it('an unreachable target is retried', async () => {
    const outcome = await sendAndJudge(runAnswering(new OutboundError('timeout', 'slow')), 'X', request);
    expect(outcome).toEqual({
      result: 'retry',
      message: 'no complete answer from x.example within the 1000 ms a check may take',
    });
  });

  it('an answer over the size limit is a permanent failure', async () => {
    const result = await deliveryCall(runAnswering(new OutboundError('too_large', 'big')), request);
    expect(result).toEqual({
      outcome: {
        result: 'failed',
        message: expect.stringMatching(/^x\.example answered with more than 1 MiB/),
      },
    });
  });

  it("readAnswer reads the body within the run's answer limits", () => {
    const run = runAnswering(answer);
    const target = (body: string): TargetResponse => ({ ...response(200), body });
    expect(readAnswer(run, target('{"id":1}'))).toEqual({ value: { id: 1 } });
    expect(readAnswer(run, target('[[[1]]]'))).toEqual({ unread: 'too_deep' });
  });
});

describe('the User-Agent of a delivery', () => {
  it('is Plugboard/<version> unless the request names its own', async () => {
    const sent: (string | undefined)[] = [];
    const run = runAnswering({
      status: 204,
      statusMessage: '',
      headers: {},
      body: '',
      url: 'https://x.example/',
    });
    const http = run.http;
    const spying: DeliveryRun = {
      ...run,
      http: {
        ...http,
        request: async (request) => {
          sent.push(request.userAgent);
          return http.request(request);
        },
      },
    };
    await deliveryCall(spying, { method: 'POST', url: 'https://x.example/' });
    await deliveryCall(spying, { method: 'POST', url: 'https://x.example/', userAgent: 'Custom/2' });
    expect(DELIVERY_USER_AGENT).toBe(`Plugboard/${VERSION}`);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(sent).toEqual([`Plugboard/${VERSION}`, 'Custom/2']);
  });
});
