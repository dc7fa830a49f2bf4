import { Histogram, Registry, type RegistryContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { REQUEST_BUCKETS, RequestHistogram } from './metrics.js';

const NAME = 'plugboard_http_request_duration_seconds';
const HELP = 'Time from the request to the end of its answer';

/** prom-client's Histogram and a RequestHistogram, each in a registry of its own, fed the same observations. */
function twins(contentType: RegistryContentType = Registry.PROMETHEUS_CONTENT_TYPE) {
  const theirs = new Registry<RegistryContentType>();
  theirs.setContentType(contentType);
  const ours = new Registry<RegistryContentType>();
  ours.setContentType(contentType);
  const histogram = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [...REQUEST_BUCKETS],
    registers: [theirs],
  });
  const fast = new RequestHistogram(NAME, HELP, REQUEST_BUCKETS);
  ours.registerMetric(fast as unknown as Histogram);
  const observe = (route: string, method: string, status: number, seconds: number) => {
    histogram.observe({ route, method, status: String(status) }, seconds);
    fast.observe(route, method, status, seconds);
  };
  return { theirs, ours, fast, histogram, observe };
}

/** Observations across every bucket, its bounds exactly, past the last, zero and below. */
function feed(observe: (route: string, method: string, status: number, seconds: number) => void): void {
  let seed = 7;
  const next = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const series: [string, string, number][] = [
    ['/api/connectors/:id', 'GET', 200],
    ['/api/connectors', 'POST', 201],
    ['/api/connectors/:id', 'GET', 404],
    ['unmatched', 'GET', 404],
    ['/api/connectors/"quoted"\\n', 'PUT', 200],
    ['/a route\nwith a newline', 'DELETE', 204],
  ];
  for (let i = 0; i < 2_000; i++) {
    const [route, method, status] = series[Math.floor(next() * series.length)] as [string, string, number];
    const pick = next();
    const seconds =
      pick < 0.1
        ? (REQUEST_BUCKETS[Math.floor(next() * REQUEST_BUCKETS.length)] as number)
        : pick < 0.15
          ? 10 + next() * 100
          : pick < 0.17
            ? 0
            : pick < 0.18
              ? -next()
              : next() ** 4 * 3;
    observe(route, method, status, seconds);
  }
}

describe('RequestHistogram', () => {
  it('gives the text and the JSON of prom-client’s Histogram fed the same observations', async () => {
    const { theirs, ours, observe } = twins();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    feed(observe);
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain(
      `${NAME}_bucket{le="0.001",route="/api/connectors/:id",method="GET",status="200"}`,
    );
    expect(JSON.stringify(await ours.getMetricsAsJSON())).toBe(
      JSON.stringify(await theirs.getMetricsAsJSON()),
    );
  });

  it('is the same in OpenMetrics, merged with another registry, and after a reset', async () => {
    const { theirs, ours, observe } = twins(Registry.OPENMETRICS_CONTENT_TYPE);
    feed(observe);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const other = new Registry<RegistryContentType>();
    other.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    // Registry.merge's types take Prometheus-text registries only; its code takes any of one type.
    const merged = (registries: Registry<RegistryContentType>[]) => Registry.merge(registries as Registry[]);
    expect(await merged([ours, other]).metrics()).toBe(await merged([theirs, other]).metrics());
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    observe('/healthz', 'GET', 200, 0.002);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses a value that is not a finite number, as prom-client does, and counts nothing for it', async () => {
    const { fast, histogram, ours, theirs } = twins();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => fast.observe('/r', 'GET', 200, bad)).toThrow(TypeError);
      expect(() => histogram.observe({ route: '/r', method: 'GET', status: '200' }, bad)).toThrow(TypeError);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
