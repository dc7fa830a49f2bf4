import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricConfiguration,
  Registry,
} from 'prom-client';
import type { PoolUse } from './store/database.js';

/**
 * The service's Prometheus metrics (`GET /metrics`, src/http/routes/metrics.ts), on prom-client.
 *
 * Each app has its own registry (`Metrics.registry`); what the process as a whole does (CPU,
 * memory, event-loop lag, garbage collection: prom-client's default metrics) is collected once per
 * process and served beside it. To add a metric, give it `registers: [metrics.registry]`, or use
 * `gaugeFrom` for a value read when Prometheus scrapes (a queue's depth, a pool's use): it costs
 * nothing between scrapes. Names start with `plugboard_`; the unit is the name's last word
 * (`_seconds`, `_total` for counters), as Prometheus's naming guide asks.
 *
 * Deliveries: `plugboard_delivery_attempts_total{type,outcome}`, counted as the worker records
 * each attempt, and the queue's depth and oldest age, read from the store at each scrape
 * (registerQueueMetrics).
 */
export interface Metrics {
  readonly registry: Registry;
  /**
   * One answered request: `route` is the matched route pattern (undefined: none matched);
   * `seconds` null for a request refused on the socket (408, 431, bad HTTP), counted apart.
   */
  observeRequest(route: string | undefined, method: string, status: number, seconds: number | null): void;
  /** One credential check done, by connector type and outcome (`ok`, `failed`, …). */
  countCheck(type: string, outcome: string): void;
  /** One delivery attempt recorded, by connector type and outcome (`delivered`, `retry`, `failed`). */
  countDeliveryAttempt(type: string, outcome: string): void;
  /** The text exposition of the app's metrics and the process's. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** The label of requests that matched no route (404s, 405s): any URL would make unbounded series. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Buckets of the request histogram, in seconds: 1 ms to 10 s. A GET answers in a few
 * milliseconds on an idle server, a create waits for an fsync (or PostgreSQL's commit), and a
 * credential check waits for its target up to the 5 s check timeout.
 */
export const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let processRegistry: Registry | undefined;

/** How long after an app's metrics are made the process's collectors start (unless scraped sooner). */
const PROCESS_METRICS_DELAY_MS = 1_000;

/**
 * prom-client's default metrics (process CPU, memory, file descriptors, event-loop lag,
 * garbage collection, active handles), in one registry per process: they describe the process,
 * and a second collector would register a second event-loop monitor and GC observer.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const requests = new Histogram({
    name: 'plugboard_http_request_duration_seconds',
    help: 'Time from the request to the end of its answer, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const refused = new Counter({
    name: 'plugboard_http_refused_requests_total',
    help: 'Requests refused on the socket before any route saw them, by status: 408 (too slow), 431 (headers too large), 400 (not HTTP)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const checks = new Counter({
    name: 'plugboard_checks_total',
    help: 'Credential checks done, by connector type and outcome (ok, failed, unreachable, blocked, not_checkable)',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'plugboard_delivery_attempts_total',
    help: 'Delivery attempts recorded by this process, by connector type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });
  // The process's collectors start a moment after the app is built, or at the first scrape if that
  // comes sooner: starting them (an event-loop monitor, a GC observer, some twenty gauges) was a
  // part of every server's start-up before its first answer (issue 15). What they miss is the
  // start itself, which they describe poorly anyway.
  setTimeout(processMetrics, PROCESS_METRICS_DELAY_MS).unref();
  return {
    registry,
    observeRequest(route, method, status, seconds) {
      if (seconds === null) refused.inc({ status: String(status) });
      else requests.observe({ route: route ?? UNMATCHED_ROUTE, method, status: String(status) }, seconds);
    },
    countCheck(type, outcome) {
      checks.inc({ type, outcome });
    },
    countDeliveryAttempt(type, outcome) {
      attempts.inc({ type, outcome });
    },
    async render() {
      // Merged at each scrape, so that metrics registered after this app was built are served too.
      return Registry.merge([registry, processMetrics()]).metrics();
    },
    contentType: registry.contentType,
  };
}

/**
 * A gauge whose value is read when Prometheus scrapes: `read` returns the value, or one per label
 * set. A failing read leaves the gauge without a sample for that scrape (the scrape itself
 * succeeds; the other metrics are still served).
 */
export function gaugeFrom<Label extends string = never>(
  metrics: Metrics,
  config: Pick<MetricConfiguration<Label>, 'name' | 'help'> & { readonly labelNames?: readonly Label[] },
  read: () =>
    | number
    | readonly { readonly labels: Record<Label, string>; readonly value: number }[]
    | Promise<number | readonly { readonly labels: Record<Label, string>; readonly value: number }[]>,
): Gauge<Label> {
  return new Gauge<Label>({
    ...config,
    labelNames: config.labelNames ?? [],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      let value: Awaited<ReturnType<typeof read>>;
      try {
        value = await read();
      } catch {
        return;
      }
      if (typeof value === 'number') this.set(value);
      else for (const sample of value) this.set(sample.labels, sample.value);
    },
  });
}

/** The PostgreSQL pool's gauges, read at each scrape. */
export function registerPoolMetrics(metrics: Metrics, poolUse: () => PoolUse): void {
  gaugeFrom(
    metrics,
    {
      name: 'plugboard_postgres_pool_connections',
      help: "PostgreSQL connections this process holds open, by state (in_use, idle); their sum is the pool's total",
      labelNames: ['state'] as const,
    },
    () => {
      const use = poolUse();
      return [
        { labels: { state: 'in_use' }, value: use.total - use.idle },
        { labels: { state: 'idle' }, value: use.idle },
      ];
    },
  );
  gaugeFrom(
    metrics,
    {
      name: 'plugboard_postgres_pool_waiting',
      help: 'Queries waiting for a PostgreSQL connection because every one is in use',
    },
    () => poolUse().waiting,
  );
  gaugeFrom(
    metrics,
    {
      name: 'plugboard_postgres_pool_max_connections',
      help: 'The most PostgreSQL connections this process opens (DATABASE_POOL_SIZE)',
    },
    () => poolUse().max,
  );
}

/** The delivery queue's gauges, read from the store at each scrape (one query each). */
export function registerQueueMetrics(
  metrics: Metrics,
  queueStats: () => Promise<{ readonly depth: number; readonly oldestQueuedAgeMs: number }>,
): void {
  gaugeFrom(
    metrics,
    {
      name: 'plugboard_delivery_queue_depth',
      help: 'Deliveries not finished yet (queued or retrying), every account',
    },
    async () => (await queueStats()).depth,
  );
  gaugeFrom(
    metrics,
    {
      name: 'plugboard_delivery_oldest_age_seconds',
      help: 'Age of the oldest delivery not finished yet (0 when none waits)',
    },
    async () => (await queueStats()).oldestQueuedAgeMs / 1000,
  );
}
