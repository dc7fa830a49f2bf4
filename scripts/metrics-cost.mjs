#!/usr/bin/env node
/**
 * What the request metrics cost per request (issue 13: keep the hot path cheap). `npm run build`
 * first; `node scripts/metrics-cost.mjs [seconds]` (default 8 s per end-to-end round).
 *
 * 1. In process: the histogram's observe as the request log calls it, on a mix of 36 label sets,
 *    against a no-op observer with the same calls (the baseline), 7 alternating rounds of 500,000.
 *    Target: at most 2 µs a request.
 * 2. End to end: the compiled server (sqlite::memory:, LOG_LEVEL=warn) with PLUGBOARD_METRICS=off
 *    and =open, alternating, 3 rounds each, a fresh server per round, 10 connections of autocannon
 *    on GET /api/connectors (an empty page: a key lookup, one query), 2 s of warm-up; the server's
 *    CPU time (/proc) per answered request. Server pinned to core 0, autocannon to core 1 when
 *    taskset exists. Target: metrics on cost at most 5 % more CPU per request than off.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cpuSeconds, freePort, hasTaskset, pinSelf, spawnNode } from './bench/server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** @type {typeof import('../src/metrics.js')} the compiled module, with the source's types */
const { createMetrics } = await import(new URL('dist/metrics.js', `file://${root}`).href);

const seconds = Number(process.argv[2] ?? 8);
if (!Number.isFinite(seconds) || seconds <= 0) {
  process.stderr.write('usage: node scripts/metrics-cost.mjs [seconds per end-to-end round, default 8]\n');
  process.exit(2);
}
const median = (/** @type {number[]} */ values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
const verdict = (/** @type {boolean} */ pass) => (pass ? 'PASS' : 'FAIL');

// 1. In process.
const routes = [
  '/api/connectors',
  '/api/connectors/:id',
  '/api/connectors/name/:name',
  '/healthz',
  undefined,
  '/metrics',
];
const methods = ['GET', 'POST', 'PUT'];
const statuses = [200, 404];
/** @type {[string | undefined, string, number, number][]} */
const calls = [];
for (const route of routes)
  for (const method of methods) for (const status of statuses) calls.push([route, method, status, 0.0042]);

const metrics = createMetrics();
/** @type {(route: string | undefined, method: string, status: number, seconds: number | null) => void} */
const noop = () => {};
const ROUNDS = 7;
const PER_ROUND = 500_000;
/** @param {typeof noop} observe */
function nsPerCall(observe) {
  const started = performance.now();
  for (let i = 0; i < PER_ROUND; i++) {
    const call = /** @type {[string | undefined, string, number, number]} */ (calls[i % calls.length]);
    observe(call[0], call[1], call[2], call[3]);
  }
  return ((performance.now() - started) * 1e6) / PER_ROUND;
}
nsPerCall(metrics.observeRequest); // warm-up: every series made, the code optimised
nsPerCall(noop);
const observed = [];
const baseline = [];
for (let round = 0; round < ROUNDS; round++) {
  observed.push(nsPerCall(metrics.observeRequest));
  baseline.push(nsPerCall(noop));
}
const histogramNs = median(observed) - median(baseline);
console.log(
  `in process: observe ${median(observed).toFixed(0)} ns, no-op ${median(baseline).toFixed(0)} ns a call ` +
    `(medians of ${ROUNDS} rounds of ${PER_ROUND.toLocaleString('en')}): the histogram costs ${histogramNs.toFixed(0)} ns a request`,
);
console.log(
  `target: histogram at most 2 µs a request: ${(histogramNs / 1000).toFixed(2)} µs: ${verdict(histogramNs <= 2000)}`,
);

// 2. End to end.
const pin = hasTaskset();
if (pin) pinSelf(1);
const apiKey = 'metrics-cost-key-0123456789';

/**
 * 10 connections of GET `url` for `duration` seconds: the 200s, and everything else.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {number} duration
 * @returns {Promise<{ answered: number; failed: number }>}
 */
function load(url, headers, duration) {
  let answered = 0;
  let other = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: 10, duration, timeout: 10, requests: [{ method: 'GET', headers }] },
      (error, result) => {
        if (error) reject(error);
        else resolve({ answered, failed: other + result.errors + result.timeouts });
      },
    ).on('response', (_client, status) => {
      if (status === 200) answered += 1;
      else other += 1;
    });
  });
}

/** @param {'off' | 'open'} access */
async function round(access) {
  const port = await freePort();
  const child = spawnNode([`${root}bin/plugboard.js`, 'serve'], {
    core: 0,
    pin,
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: 'sqlite::memory:',
      PLUGBOARD_API_KEY: apiKey,
      PLUGBOARD_METRICS: access,
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
    },
  });
  const url = `http://127.0.0.1:${port}/api/connectors`;
  const headers = { authorization: `Bearer ${apiKey}` };
  try {
    for (let tries = 0; ; tries++) {
      const answer = await fetch(url, { headers }).catch(() => undefined);
      if (answer?.status === 200) break;
      if (tries > 400 || child.exitStatus) throw new Error(`the server (metrics ${access}) did not start`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await load(url, headers, 2);
    const before = cpuSeconds(child.pid ?? 0) ?? 0;
    const { answered, failed } = await load(url, headers, seconds);
    const cpu = (cpuSeconds(child.pid ?? 0) ?? 0) - before;
    if (failed > 0) throw new Error(`metrics ${access}: ${failed} requests failed or were not 200`);
    return { rps: answered / seconds, cpuUs: (cpu * 1e6) / answered };
  } finally {
    child.kill('SIGTERM');
    await child.exited;
  }
}

/** @type {{ off: { rps: number; cpuUs: number }[]; open: { rps: number; cpuUs: number }[] }} */
const rounds = { off: [], open: [] };
for (let i = 0; i < 3; i++) {
  for (const access of /** @type {const} */ (['off', 'open'])) {
    const measured = await round(access);
    rounds[access].push(measured);
    console.log(
      `  round ${i + 1}, metrics ${access}: ${measured.rps.toFixed(0)} req/s, ${measured.cpuUs.toFixed(1)} µs of server CPU a request`,
    );
  }
}
const off = median(rounds.off.map((r) => r.cpuUs));
const on = median(rounds.open.map((r) => r.cpuUs));
const extra = (on - off) / off;
console.log(
  `end to end (GET /api/connectors, medians of 3): off ${off.toFixed(1)} µs, on ${on.toFixed(1)} µs of CPU a request: ` +
    `${(on - off).toFixed(1)} µs (${(extra * 100).toFixed(1)} %) more with metrics`,
);
console.log(
  `target: metrics on at most 5 % more CPU a request: ${(extra * 100).toFixed(1)} %: ${verdict(extra <= 0.05)}`,
);
