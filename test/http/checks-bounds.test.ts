import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ANSWER_LIMITS } from '../../src/connectors/checks/answer.js';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { buildTestApp, type ErrorResponse, json, type TestContext } from '../helpers.js';

// Issue 11, finding 1: a check target a write key controls answers 1 MiB of nested `[[[…]]]`
// (JSON.parse: 220-500 ms of a blocked event loop, for every tenant), and checks at once are
// bounded per API key and per process.

/** Just under the outbound client's 1 MiB cap: read whole, as a hostile target would make sure. */
const NESTED = '['.repeat(1024 * 1024 - 64);

let target: Server;
let base = '';
/** Answers held by the `/hold` target until released. */
const held: ServerResponse[] = [];

beforeAll(async () => {
  target = createServer((req, res) => {
    if (req.url?.startsWith('/hold')) {
      held.push(res);
      return;
    }
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(NESTED);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of held.splice(0)) res.destroy();
  await new Promise((resolve) => target.close(resolve));
});

function jira(url: string) {
  return { name: 'c', type: 'jira', params: { url, email: 'a@example.com', password: 'secret-1' } };
}

describe('a target answering 1 MiB of nested JSON', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestApp({ checks: { allowedTargets: ['127.0.0.1'], timeoutMs: 10_000 } });
  });
  afterAll(() => t.close());
  afterEach(() => vi.restoreAllMocks());

  it('is never handed to JSON.parse: the check reads its status only', async () => {
    const parse = vi.spyOn(JSON, 'parse');
    const response = await t.call('POST', '/api/connectors/check', { body: jira(base) });
    expect(response.statusCode, response.body).toBe(200);
    expect(json<CheckResult>(response)).toMatchObject({ status: 'failed', httpStatus: 401 });
    expect(json<CheckResult>(response).message).toMatch(/refused the credentials \(HTTP 401 Unauthorized\)/);
    const longest = Math.max(0, ...parse.mock.calls.map(([text]) => String(text).length));
    expect(longest).toBeLessThanOrEqual(ANSWER_LIMITS.maxChars);
  });

  // What the event loop is spared is measured by scripts/bench-hostile-checks.mjs against an
  // unbounded server in the same run (a stall figure in a test fails on a loaded machine); here
  // the cause is pinned: no answer of the eight reaches JSON.parse whole.
  it('eight at once (two keys, four each) all answer, and none of the 1 MiB answers is parsed whole', async () => {
    const parse = vi.spyOn(JSON, 'parse');
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.call('POST', '/api/connectors/check', {
          body: jira(base),
          key: i % 2 === 0 ? t.keys.write : t.keys.otherWrite,
        }),
      ),
    );
    for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200);
    const longest = Math.max(0, ...parse.mock.calls.map(([text]) => String(text).length));
    expect(longest).toBeLessThanOrEqual(ANSWER_LIMITS.maxChars);
    parse.mockRestore();
  });
});

describe('checks at once', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestApp({
      checks: { allowedTargets: ['127.0.0.1'], timeoutMs: 10_000, concurrency: { perKey: 2, perProcess: 3 } },
    });
  });
  afterAll(() => t.close());

  async function heldCount(n: number): Promise<void> {
    await vi.waitFor(() => expect(held.length).toBe(n), { timeout: 5_000 });
  }

  it('over the per-key bound: 429 naming it, with Retry-After; over the per-process bound: 503', async () => {
    const hold = jira(`${base}/hold`);
    const first = [
      t.call('POST', '/api/connectors/check', { body: hold }),
      t.call('POST', '/api/connectors/check', { body: hold }),
    ];
    await heldCount(2);

    const third = await t.call('POST', '/api/connectors/check', { body: hold });
    expect(third.statusCode, third.body).toBe(429);
    expect(json<ErrorResponse>(third)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(json<ErrorResponse>(third).message).toMatch(
      /at most 2 credential checks run at a time for one API key; retry in \d+ s/,
    );
    const retry = Number(third.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(10);

    // Another key still gets its check, up to the process's bound.
    const other = t.call('POST', '/api/connectors/check', { body: hold, key: t.keys.otherWrite });
    await heldCount(3);
    const fourth = await t.call('POST', '/api/connectors/check', { body: hold, key: t.keys.otherWrite });
    expect(fourth.statusCode, fourth.body).toBe(503);
    expect(json<ErrorResponse>(fourth)).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(json<ErrorResponse>(fourth).message).toMatch(
      /at most 3 credential checks run at a time on this server; retry in \d+ s/,
    );
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    for (const res of held.splice(0)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"accountId":"1"}');
    }
    for (const answer of await Promise.all([...first, other])) {
      expect(answer.statusCode, answer.body).toBe(200);
    }
    // The bounds count running checks only: once they ended, the key checks again.
    const again = await t.call('POST', '/api/connectors/check', { body: jira(base) });
    expect(again.statusCode, again.body).toBe(200);
  });
});
