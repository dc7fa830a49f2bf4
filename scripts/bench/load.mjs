#!/usr/bin/env node
/**
 * The load generator of `npm run bench`, run as its own process (pinned to the other core than the
 * server): `node scripts/bench/load.mjs PLAN.json`. It drives autocannon's programmatic API with
 * a warm-up (not recorded), prints `measure-start` on stdout, runs the measured phase, writes the
 * result as JSON to plan.output and prints `done`.
 *
 * Latency is recorded per response from autocannon's `response` event (high-resolution, every
 * status), not from autocannon's whole-millisecond histogram; rps = responses / measured seconds.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { bodyFor, connectorTypes, findType } from './workload.mjs';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const pick = (items) => items[Math.floor(Math.random() * items.length)];
const key = (secret) => `Bearer ${secret}`;
let serial = 0;
let nextDelete = 0;
const ops = {};

/** One request of each kind, written into autocannon's request object. */
const make = {
  get(req) {
    const [id] = pick(plan.ids);
    req.method = 'GET';
    req.path = `/api/connectors/${id}`;
    req.headers = { authorization: key(plan.apiKey) };
    req.body = undefined;
    return 'get';
  },
  list(req) {
    req.method = 'GET';
    req.path = '/api/connectors?max-results=50';
    req.headers = { authorization: key(plan.apiKey) };
    req.body = undefined;
    return 'list';
  },
  create(req) {
    serial++;
    const type = connectorTypes[serial % connectorTypes.length];
    req.method = 'POST';
    req.path = '/api/connectors';
    req.headers = { authorization: key(plan.apiKey), 'content-type': 'application/json' };
    req.body = bodyFor(type, `${plan.namePrefix} created ${serial}`, serial);
    return 'create';
  },
  update(req) {
    serial++;
    const [id, typeId] = pick(plan.ids);
    req.method = 'PUT';
    req.path = `/api/connectors/${id}`;
    req.headers = { authorization: key(plan.apiKey), 'content-type': 'application/json' };
    req.body = bodyFor(findType(typeId), `${plan.namePrefix} updated ${serial}`, serial);
    return 'update';
  },
  delete(req) {
    const id = plan.deleteIds[nextDelete++];
    req.method = 'DELETE';
    req.path = `/api/connectors/${id}`;
    req.headers = { authorization: key(plan.deleteApiKey) };
    req.body = undefined;
    return 'delete';
  },
  /** 90 % reads (60 % GET one, 30 % list 50), 10 % writes (5 % create, 5 % update). */
  mix(req) {
    const r = Math.random();
    if (r < 0.6) return make.get(req);
    if (r < 0.9) return make.list(req);
    if (r < 0.95) return make.create(req);
    return make.update(req);
  },
  /** The bare server answers every path alike: the same requests as GET one. */
  baseline(req) {
    return make.get(req);
  },
};

const shape = make[plan.kind];
if (!shape) throw new Error(`unknown kind ${plan.kind}`);

const staticKind = ['get', 'list', 'baseline'].includes(plan.kind);
let recording = false;
let latencies = new Float64Array(1 << 16);
let count = 0;
const statuses = {};
const samples = [];

function record(status, ms) {
  if (!recording) return;
  if (count === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[count++] = ms;
  statuses[status] = (statuses[status] ?? 0) + 1;
  if (staticKind) ops[plan.kind] = count;
}

/**
 * GET one, list and the baseline send a fixed set of prebuilt requests (500 GETs of random ids,
 * which each connection cycles through), so that building requests costs the load generator
 * nothing: a setupRequest per request halved what one core of autocannon could send. (Autocannon
 * builds the set once per connection before it starts; the measured time begins after that.) Writes need
 * a fresh body per request (unique names, a new delete target) and use setupRequest.
 */
const dynamic = {
  setupRequest(req) {
    const op = shape(req);
    if (recording) ops[op] = (ops[op] ?? 0) + 1;
    return req;
  },
  onResponse(status, body) {
    if (recording && (status < 200 || status > 299) && samples.length < 5) {
      samples.push({ status, body: String(body).slice(0, 300) });
    }
  },
};
const requests = staticKind
  ? Array.from({ length: plan.kind === 'list' ? 1 : 500 }, () => {
      const req = {};
      shape(req);
      return req;
    })
  : [dynamic];

function run(seconds, measured) {
  return new Promise((resolve, reject) => {
    const options = {
      url: plan.url,
      connections: plan.connections,
      requests,
      timeout: plan.timeoutSeconds ?? 10,
    };
    // Deletes consume a pool: stop at the pool's end (less the request each connection builds ahead).
    const left = plan.kind === 'delete' ? plan.deleteIds.length - nextDelete - plan.connections * 2 : 0;
    if (plan.kind === 'delete') {
      if (left < plan.connections) {
        resolve({ exhausted: true, result: undefined, seconds: 0 });
        return;
      }
      options.amount = left;
    } else options.duration = seconds;
    let stopped = false;
    let timer;
    // Autocannon builds every connection's requests before it starts: the clock starts after that.
    let started;
    const instance = autocannon(options, (error, result) => {
      recording = false;
      if (timer) clearTimeout(timer);
      if (error) reject(error);
      else
        resolve({
          result,
          seconds: (performance.now() - started) / 1000,
          exhausted: plan.kind === 'delete' && !stopped,
        });
    });
    instance.on('start', () => {
      started = performance.now();
      recording = measured;
      if (plan.kind === 'delete') {
        timer = setTimeout(() => {
          stopped = true;
          instance.stop();
        }, seconds * 1000);
      }
    });
    instance.on('response', (_client, status, _bytes, ms) => record(status, ms));
  });
}

function quantile(sorted, n, q) {
  if (n === 0) return null;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
}

if (plan.warmupSeconds > 0) await run(plan.warmupSeconds, false);
process.stdout.write('measure-start\n');
const { result, seconds, exhausted } = await run(plan.durationSeconds, true);
const sorted = latencies.subarray(0, count).sort();
let sum = 0;
for (let i = 0; i < count; i++) sum += sorted[i];
let non2xx = 0;
for (const [status, n] of Object.entries(statuses)) if (status < 200 || status > 299) non2xx += n;
const output = {
  kind: plan.kind,
  connections: plan.connections,
  seconds,
  responses: count,
  rps: seconds > 0 ? count / seconds : 0,
  latencyMs: {
    p50: quantile(sorted, count, 0.5),
    p90: quantile(sorted, count, 0.9),
    p99: quantile(sorted, count, 0.99),
    mean: count > 0 ? sum / count : null,
    max: count > 0 ? sorted[count - 1] : null,
  },
  statuses,
  non2xx,
  errors: result?.errors ?? 0,
  timeouts: result?.timeouts ?? 0,
  ops,
  nonOkSamples: samples,
  ...(plan.kind === 'delete'
    ? { deletePool: plan.deleteIds.length, deleteIdsUsed: nextDelete, poolExhausted: Boolean(exhausted) }
    : {}),
};
writeFileSync(plan.output, JSON.stringify(output));
process.stdout.write('done\n');
