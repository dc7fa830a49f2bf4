import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT } from '../../src/bootstrap.js';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import { REQUEST_BUCKETS } from '../../src/metrics.js';
import { createKeyStore } from '../../src/store/key-store.js';
import { testBackend } from '../backend.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, validBody } from '../helpers.js';
import {
  family,
  hasLabels,
  histogramSeries,
  parseMetrics,
  promtoolCheck,
  promtoolMissing,
} from '../prometheus.js';

/**
 * What promtool's linter says of prom-client's default metrics, which we keep as prom-client names
 * them (dashboards for Node.js expect these names): gauges whose names end in _total.
 */
const DEFAULT_METRIC_LINTS = new Set(
  ['handles', 'requests', 'resources'].map(
    (kind) => `nodejs_active_${kind}_total non-counter metrics should not have "_total" suffix`,
  ),
);

/** The count of a histogram's series with these labels (0 when there is no such series). */
function countOf(text: string, name: string, labels: Record<string, string>): number {
  const matching = histogramSeries(family(parseMetrics(text), name)).filter((s) =>
    hasLabels(s.labels, labels),
  );
  return matching.reduce((sum, series) => sum + series.count, 0);
}

const offlineType = connectorTypes.find((type) => type.check.kind === 'offline');
if (!offlineType) throw new Error('no connector type with an offline check to count');

describe('GET /metrics with PLUGBOARD_METRICS=key (the default)', () => {
  let t: TestContext;
  let operatorKey: string;
  let checked: CheckResult;
  let text: string;

  beforeAll(async () => {
    t = await buildTestApp();
    operatorKey = (
      await createKeyStore(t.database.db, t.hashing).create(DEFAULT_ACCOUNT, 'read', 'prometheus')
    ).secret;
    // Something to count: a list, a create, a miss, a 404 on no route, and a check.
    expect((await t.call('GET', '/api/connectors')).statusCode).toBe(200);
    expect((await t.call('POST', '/api/connectors', { body: validBody(offlineType) })).statusCode).toBe(201);
    expect((await t.call('GET', '/api/connectors/nope')).statusCode).toBe(404);
    expect((await t.call('GET', '/no/such/route')).statusCode).toBe(404);
    const check = await t.call('POST', '/api/connectors/check', { body: validBody(offlineType) });
    checked = json<CheckResult>(check);
    const response = await t.call('GET', '/metrics', { key: operatorKey });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    text = response.body;
  });
  afterAll(() => t.close());

  it('refuses a request without a key (401)', async () => {
    const response = await t.call('GET', '/metrics', { key: null });
    expect(response.statusCode).toBe(401);
    expect(json<ErrorResponse>(response).code).toBe('UNAUTHORIZED');
  });

  it("refuses another account's key, write keys too (403), saying which key it needs", async () => {
    for (const key of [t.keys.read, t.keys.write, t.keys.otherWrite]) {
      const response = await t.call('GET', '/metrics', { key });
      expect(response.statusCode).toBe(403);
      expect(json<ErrorResponse>(response).message).toContain('plugboard keys create --account default');
    }
  });

  it('parses as the Prometheus text format, every family with its TYPE and HELP', () => {
    const families = parseMetrics(text);
    expect(families.length).toBeGreaterThan(10);
    for (const metric of families) {
      expect(metric.help, metric.name).not.toBe('');
      expect(metric.type, metric.name).not.toBe('untyped');
    }
  });

  it.skipIf(promtoolMissing() !== undefined && process.env.CI !== 'true')(
    `passes promtool check metrics (Prometheus's own parser and linter)${promtoolMissing() ? `: skipped, ${promtoolMissing()}` : ''}`,
    () => {
      const verdict = promtoolCheck(text);
      expect(verdict.problems.filter((problem) => !DEFAULT_METRIC_LINTS.has(problem))).toEqual([]);
      // 3: lint problems (the default metrics' above) but parsed; 1 would be a parse error.
      expect([0, 3]).toContain(verdict.status);
    },
  );

  it('has a request histogram by route pattern, method and status', () => {
    const requests = family(parseMetrics(text), 'plugboard_http_request_duration_seconds');
    expect(requests.type).toBe('histogram');
    const count = (route: string, method: string, status: string) =>
      countOf(text, 'plugboard_http_request_duration_seconds', { route, method, status });
    expect(count('/api/connectors', 'GET', '200')).toBe(1);
    expect(count('/api/connectors', 'POST', '201')).toBe(1);
    // By the route's pattern, never the URL: ids and names would make a series each.
    expect(count('/api/connectors/:id', 'GET', '404')).toBe(1);
    expect(count('unmatched', 'GET', '404')).toBe(1);
    expect(text).not.toContain('/no/such/route');
    expect(text).not.toContain('nope');
    const [series] = histogramSeries(requests).filter((s) =>
      hasLabels(s.labels, { route: '/api/connectors', method: 'GET', status: '200' }),
    );
    expect(series?.sum).toBeGreaterThan(0);
    expect(series?.sum).toBeLessThan(30);
    expect([...(series?.buckets.keys() ?? [])]).toEqual([...REQUEST_BUCKETS, Number.POSITIVE_INFINITY]);
  });

  it('counts checks by type and outcome', () => {
    const checks = family(parseMetrics(text), 'plugboard_checks_total');
    expect(checks.type).toBe('counter');
    expect(checks.samples).toEqual([
      { name: 'plugboard_checks_total', labels: { type: offlineType.id, outcome: checked.status }, value: 1 },
    ]);
  });

  it("has the process's and the event loop's metrics", () => {
    const families = parseMetrics(text);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(family(families, name).samples.length, name).toBeGreaterThan(0);
    }
  });

  it.runIf(testBackend === 'postgres')("has the PostgreSQL pool's use", () => {
    const families = parseMetrics(text);
    const connections = family(families, 'plugboard_postgres_pool_connections');
    expect(connections.type).toBe('gauge');
    const states = Object.fromEntries(connections.samples.map((m) => [m.labels.state, m.value]));
    expect(Object.keys(states).sort()).toEqual(['idle', 'in_use']);
    // The scrape itself holds no connection; the requests before it opened at least one.
    expect((states.idle ?? 0) + (states.in_use ?? 0)).toBeGreaterThan(0);
    const max = t.database.poolUse?.().max ?? 0;
    expect(max).toBeGreaterThan(0);
    expect(family(families, 'plugboard_postgres_pool_max_connections').samples[0]?.value).toBe(max);
    expect((states.idle ?? 0) + (states.in_use ?? 0)).toBeLessThanOrEqual(max);
    // The scrape's own last-used write of its key may be waiting for the one connection of a test pool.
    const waiting = family(families, 'plugboard_postgres_pool_waiting').samples[0]?.value;
    expect(Number.isInteger(waiting) && (waiting ?? -1) >= 0).toBe(true);
  });

  it("has the delivery queue's depth and oldest age, read from the store (nothing queued here)", () => {
    const families = parseMetrics(text);
    for (const name of ['plugboard_delivery_queue_depth', 'plugboard_delivery_oldest_age_seconds']) {
      const gauge = family(families, name);
      expect(gauge.type, name).toBe('gauge');
      expect(
        gauge.samples.map((sample) => sample.value),
        name,
      ).toEqual([0]);
    }
    expect(family(families, 'plugboard_delivery_attempts_total').type).toBe('counter');
  });

  it.runIf(testBackend === 'sqlite')('has no pool metrics on SQLite, which has no pool', () => {
    expect(text).not.toContain('plugboard_postgres_pool');
  });

  it('counts the scrapes, refused ones too, on the next one', async () => {
    const again = await t.call('GET', '/metrics', { key: operatorKey });
    const count = (status: string) =>
      countOf(again.body, 'plugboard_http_request_duration_seconds', { route: '/metrics', status });
    expect(count('200')).toBe(1);
    expect(count('401')).toBe(1);
    expect(count('403')).toBe(3);
  });
});

describe('PLUGBOARD_METRICS=open and off', () => {
  it('open: served without a key', async () => {
    const t = await buildTestApp({ metrics: 'open' });
    try {
      const response = await t.call('GET', '/metrics', { key: null });
      expect(response.statusCode).toBe(200);
      expect(family(parseMetrics(response.body), 'plugboard_http_request_duration_seconds').type).toBe(
        'histogram',
      );
    } finally {
      await t.close();
    }
  });

  it('off: no /metrics at all (404), with or without a key', async () => {
    const t = await buildTestApp({ metrics: 'off' });
    try {
      expect((await t.call('GET', '/metrics', { key: null })).statusCode).toBe(404);
      expect((await t.call('GET', '/metrics')).statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });
});
