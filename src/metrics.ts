import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  type Metric,
  type MetricConfiguration,
  type MetricValueWithName,
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
export const REQUEST_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

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
  const requests = new RequestHistogram(
    'plugboard_http_request_duration_seconds',
    'Time from the request to the end of its answer, by route pattern, method and status',
    REQUEST_BUCKETS,
  );
  // The registry reads a metric's name, type, help, aggregator, get() and reset() (prom-client
  // 15.1.3's registry.js); its types name only prom-client's own classes.
  registry.registerMetric(requests as unknown as Metric);
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
      else requests.observe(route ?? UNMATCHED_ROUTE, method, status, seconds);
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

/** One label set's observations: a count per bucket (the last for values past every bound), sum, count. */
interface RequestSeries {
  readonly labels: { readonly route: string; readonly method: string; readonly status: string };
  readonly buckets: number[];
  sum: number;
  count: number;
}

/**
 * The request histogram, with the series and text of a prom-client Histogram of the same name,
 * buckets and labels (`route`, `method`, `status`), where an observation costs three Map lookups
 * (route, method, status) and three additions: prom-client's observe validated the labels
 * object, hashed it and searched the buckets on every request, ~2 % of a GET's CPU (issue 15).
 * Its series come in the order their first observations came, and its sums add in the order of
 * the observations, as prom-client's. No default labels: the registry would write them after
 * `le` rather than after the series' labels.
 */
export class RequestHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Every series, in the order of their first observations (prom-client's order). */
  #series: RequestSeries[] = [];
  #byRoute = new Map<string, Map<string, Map<number, RequestSeries>>>();
  /** The buckets' upper bounds, ascending (a copy). */
  readonly #bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.#bounds = Object.freeze([...bounds]);
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
    // By route, then method, then status: three lookups, no key made per request.
    let byMethod = this.#byRoute.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#byRoute.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = {
        labels: { route, method, status: String(status) },
        buckets: new Array<number>(this.#bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      byStatus.set(status, series);
      this.#series.push(series);
    }
    // The first bound at or above the value, as prom-client's (`le`: less than or equal).
    let bucket = 0;
    while (bucket < this.#bounds.length && seconds > (this.#bounds[bucket] as number)) bucket++;
    series.buckets[bucket] = (series.buckets[bucket] as number) + 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** The values as prom-client's Histogram gives them: per series, each bucket (cumulative), +Inf, sum, count. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: (MetricValueWithName<string> & { exemplar: null | undefined })[];
    aggregator: 'sum';
  }> {
    const values: (MetricValueWithName<string> & { exemplar: null | undefined })[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, buckets, sum, count } of this.#series) {
      let below = 0;
      this.#bounds.forEach((bound, i) => {
        below += buckets[i] as number;
        values.push({
          value: below,
          metricName: bucketName,
          exemplar: null,
          labels: { le: bound, ...labels },
        });
      });
      // In prom-client's key order too (its JSON: getMetricsAsJSON).
      values.push(
        { value: count, metricName: bucketName, exemplar: null, labels: { le: '+Inf', ...labels } },
        { value: sum, metricName: `${this.name}_sum`, exemplar: undefined, labels: { ...labels } },
        { value: count, metricName: `${this.name}_count`, exemplar: undefined, labels: { ...labels } },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#series = [];
    this.#byRoute = new Map();
  }
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
