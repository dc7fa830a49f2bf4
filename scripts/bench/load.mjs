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

/** @import { Request, Result } from 'autocannon' */
/** @import { ConnectorType } from '../../src/connectors/define.js' */

/**
 * What to run, written by the bench as JSON.
 * @typedef {object} LoadPlan
 * @property {string} name
 * @property {LoadKind} kind
 * @property {number} connections
 * @property {number} warmupSeconds
 * @property {number} durationSeconds
 * @property {string} namePrefix of created and updated connectors' names
 * @property {number} [timeoutSeconds]
 * @property {[string, string][]} ids `[id, type]` of the connectors to read and update
 * @property {string} apiKey
 * @property {string} [deleteApiKey]
 * @property {string[]} [deleteIds] the pool the DELETE case consumes
 * @property {string} url the server
 * @property {string} output where the result goes
 */
/** @typedef {'get' | 'list' | 'create' | 'update' | 'delete' | 'mix' | 'baseline'} LoadKind */
/**
 * What was measured, written as JSON to plan.output.
 * @typedef {object} LoadResult
 * @property {LoadKind} kind
 * @property {number} connections
 * @property {number} seconds
 * @property {number} responses
 * @property {number} rps
 * @property {{ p50: number | null; p90: number | null; p99: number | null; mean: number | null; max: number | null }} latencyMs
 * @property {Record<string, number>} statuses
 * @property {number} non2xx
 * @property {number} errors
 * @property {number} timeouts
 * @property {Record<string, number>} ops requests sent, by operation
 * @property {{ status: number; body: string }[]} nonOkSamples
 * @property {number} [deletePool]
 * @property {number} [deleteIdsUsed]
 * @property {boolean} [poolExhausted]
 */

/** @type {LoadPlan} */
const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8'));
/**
 * @template T
 * @param {readonly T[]} items
 * @returns {T}
 */
const pick = (items) => /** @type {T} */ (items[Math.floor(Math.random() * items.length)]);
/** @param {string | undefined} secret */
const key = (secret) => `Bearer ${secret}`;
/** @param {string} id */
const typeOf = (id) => {
  const type = findType(id);
  if (!type) throw new Error(`no connector type ${id}`);
  return type;
};
const deleteIds = plan.deleteIds ?? [];
let serial = 0;
let nextDelete = 0;
/** @type {Record<string, number>} */
const ops = {};

/**
 * One request of each kind, written into autocannon's request object.
 * @type {Record<LoadKind, (req: Request) => string>}
 */
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
    const type = /** @type {ConnectorType} */ (connectorTypes[serial % connectorTypes.length]);
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
    req.body = bodyFor(typeOf(typeId), `${plan.namePrefix} updated ${serial}`, serial);
    return 'update';
  },
  delete(req) {
    const id = deleteIds[nextDelete++];
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
/** @type {Record<string, number>} */
const statuses = {};
/** @type {{ status: number; body: string }[]} */
const samples = [];

/** @param {number} status @param {number} ms */
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
/** @type {Request} */
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
      /** @type {Request} */
      const req = {};
      shape(req);
      return req;
    })
  : [dynamic];

/**
 * @param {number} seconds
 * @param {boolean} measured
 * @returns {Promise<{ result: Result | undefined; seconds: number; exhausted: boolean }>}
 */
function run(seconds, measured) {
  return new Promise((resolve, reject) => {
    /** @type {import('autocannon').Options} */
    const options = {
      url: plan.url,
      connections: plan.connections,
      requests,
      timeout: plan.timeoutSeconds ?? 10,
    };
    // Deletes consume a pool: stop at the pool's end (less the request each connection builds ahead).
    const left = plan.kind === 'delete' ? deleteIds.length - nextDelete - plan.connections * 2 : 0;
    if (plan.kind === 'delete') {
      if (left < plan.connections) {
        resolve({ exhausted: true, result: undefined, seconds: 0 });
        return;
      }
      options.amount = left;
    } else options.duration = seconds;
    let stopped = false;
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    // Autocannon builds every connection's requests before it starts: the clock starts after that.
    let started = performance.now();
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

/**
 * @param {Float64Array} sorted
 * @param {number} n
 * @param {number} q
 */
function quantile(sorted, n, q) {
  if (n === 0) return null;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] ?? null;
}

if (plan.warmupSeconds > 0) await run(plan.warmupSeconds, false);
process.stdout.write('measure-start\n');
const { result, seconds, exhausted } = await run(plan.durationSeconds, true);
const sorted = latencies.subarray(0, count).sort();
let sum = 0;
for (let i = 0; i < count; i++) sum += sorted[i] ?? 0;
let non2xx = 0;
for (const [status, n] of Object.entries(statuses))
  if (Number(status) < 200 || Number(status) > 299) non2xx += n;
/** @type {LoadResult} */
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
    max: count > 0 ? (sorted[count - 1] ?? null) : null,
  },
  statuses,
  non2xx,
  errors: result?.errors ?? 0,
  timeouts: result?.timeouts ?? 0,
  ops,
  nonOkSamples: samples,
  ...(plan.kind === 'delete'
    ? { deletePool: deleteIds.length, deleteIdsUsed: nextDelete, poolExhausted: Boolean(exhausted) }
    : {}),
};
writeFileSync(plan.output, JSON.stringify(output));
process.stdout.write('done\n');
