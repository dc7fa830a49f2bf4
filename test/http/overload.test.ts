import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_OVERLOAD } from '../../src/http/overload.js';
import { DEFAULT_TIMEOUTS } from '../../src/http/timeouts.js';
import { buildTestApp, type ErrorResponse, type TestContext } from '../helpers.js';

const open: TestContext[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Block the event loop, as a runaway computation would.
  }
}

describe('overload', () => {
  it('answers 503 with Retry-After in the error shape while the event loop lags', async () => {
    const t = await buildTestApp({
      limits: { overload: { maxEventLoopDelayMs: 50, sampleIntervalMs: 500, retryAfterSeconds: 3 } },
    });
    open.push(t);
    expect((await t.call('GET', '/api/connectors')).statusCode).toBe(200);

    const deadline = Date.now() + 5_000;
    while (!t.app.isUnderPressure() && Date.now() < deadline) {
      busy(150);
      await sleep(1);
    }
    expect(t.app.isUnderPressure()).toBe(true);

    const response = await t.call('GET', '/api/connectors');
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('3');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({
      status: 503,
      code: 'SERVICE_UNAVAILABLE',
      message: 'the server is overloaded; retry in 3 s',
    } satisfies ErrorResponse);
    expect(t.logs.join('')).toContain('overloaded: answering 503');
    // /healthz reports the database only.
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('has thresholds far above what a busy server sees', () => {
    expect(DEFAULT_OVERLOAD).toEqual({
      maxEventLoopDelayMs: 1_000,
      sampleIntervalMs: 1_000,
      retryAfterSeconds: 5,
    });
  });
});

/** Opens a connection, writes `text`, then stalls; resolves when the server closes it. */
async function stallAfter(port: number, text: string): Promise<{ elapsedMs: number; received: string }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const started = Date.now();
  let received = '';
  socket.on('data', (chunk) => {
    received += String(chunk);
  });
  socket.on('error', () => {});
  if (text !== '') socket.write(text);
  const guard = setTimeout(() => socket.destroy(new Error('never closed')), 5_000);
  await new Promise((resolve) => socket.once('close', resolve));
  clearTimeout(guard);
  return { elapsedMs: Date.now() - started, received };
}

describe('timeouts on a real port', () => {
  it('uses 10 s for headers, 30 s for the whole request, 60 s idle, 72 s keep-alive by default', async () => {
    const t = await buildTestApp();
    open.push(t);
    expect(DEFAULT_TIMEOUTS).toMatchObject({ headersMs: 10_000, requestMs: 30_000, keepAliveMs: 72_000 });
    expect(t.app.server.headersTimeout).toBe(10_000);
    expect(t.app.server.requestTimeout).toBe(30_000);
    expect(t.app.server.keepAliveTimeout).toBe(72_000);
    expect(t.app.server.timeout).toBe(60_000);
  });

  it('disconnects a client that sends half its headers, or half its body, and stalls', async () => {
    const t = await buildTestApp({
      limits: { timeouts: { headersMs: 300, requestMs: 800, checkIntervalMs: 50 } },
    });
    open.push(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');

    const halfHeaders = await stallAfter(address.port, 'GET /api/connectors HTTP/1.1\r\nHost: localhost\r\n');
    expect(halfHeaders.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(halfHeaders.elapsedMs).toBeLessThan(1_000);
    expect(halfHeaders.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(JSON.parse(halfHeaders.received.split('\r\n\r\n')[1] ?? '')).toEqual({
      status: 408,
      code: 'REQUEST_TIMEOUT',
      message:
        'the request did not arrive in time: the headers must arrive within 0.3 s, the whole request within 0.8 s',
    });

    const silent = await stallAfter(address.port, '');
    expect(silent.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(silent.elapsedMs).toBeLessThan(1_000);

    const halfBody = await stallAfter(
      address.port,
      `POST /api/connectors HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.keys.write}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":',
    );
    expect(halfBody.elapsedMs).toBeGreaterThanOrEqual(700);
    expect(halfBody.elapsedMs).toBeLessThan(1_500);
    expect(halfBody.received).toMatch(/^HTTP\/1\.1 408/);

    // A client that is not slow is served as usual.
    const response = await fetch(`http://127.0.0.1:${address.port}/healthz`);
    expect(response.status).toBe(200);
  });
});
