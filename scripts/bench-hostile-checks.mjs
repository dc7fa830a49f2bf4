#!/usr/bin/env node
/**
 * `node scripts/bench-hostile-checks.mjs` (after `npm run build`): what hostile credential checks
 * cost everyone else (issue 11, finding 1).
 *
 * A target on 127.0.0.1 answers every request with just under 1 MiB of nested `[[[…]]]`. One
 * tenant (one write key) runs 8 checks against it at a time, in a closed loop (after a 429 or
 * 503 it waits 100 ms); meanwhile another tenant reads its connector in a closed loop (2 at a
 * time) and /healthz is asked every 20 ms. Each phase runs first quiet (no hostile checks), then
 * under attack, in two server processes one after the other in the same run:
 *
 * - `baseline`: the answer read whole (the answer limits lifted, as before the fix) and checks at
 *   once unbounded: what the fix removed;
 * - `bounded`: the defaults (answers read after a 64 KiB / depth 32 / 8,192-value scan; at most 4
 *   checks at once per key, 16 per process).
 *
 * Prints the figures of each, and PASS/FAIL for the targets of the bounded server: /healthz worst
 * under attack ≤ 100 ms and ≤ a quarter of the baseline's, the other tenant's median under attack
 * ≤ 3× its quiet median + 2 ms and ≤ half the baseline's, and no 503 for it. Settings: BENCH_SECONDS (each phase, default 6). Nothing leaves 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const NESTED = Buffer.from('['.repeat(1024 * 1024 - 64));
const UNBOUNDED = Number.POSITIVE_INFINITY;

/** @typedef {'baseline' | 'bounded'} Variant */
/** @typedef {{ port: number; attacker: string; tenant: string; connectorId: string }} Ready */

/**
 * The server under test, in this child process: an app on a fresh SQLite file, two accounts.
 * @param {Variant} variant
 */
async function serve(variant) {
  const { buildApp } = await import(join(root, 'dist/app.js'));
  const { openDatabase, migrateToLatest } = await import(join(root, 'dist/store/database.js'));
  const { ephemeralKeyring } = await import(join(root, 'dist/secrets/keyring.js'));
  const { openHashing } = await import(join(root, 'dist/store/sealed/hash-key.js'));
  const { createKeyStore } = await import(join(root, 'dist/store/key-store.js'));
  const { createLogger } = await import(join(root, 'dist/logger.js'));
  const dir = mkdtempSync(join(tmpdir(), 'plugboard-hostile-'));
  const database = openDatabase({ kind: 'sqlite', path: join(dir, 'db.sqlite') });
  await migrateToLatest(database);
  const keyring = ephemeralKeyring();
  const hashing = await openHashing(database.db, keyring);
  const keys = createKeyStore(database.db, hashing);
  const attacker = (await keys.create('attacker', 'write', 'bench')).secret;
  const tenant = (await keys.create('tenant', 'write', 'bench')).secret;
  const app = await buildApp({
    database,
    logger: createLogger('error'),
    keyring,
    hashing,
    closeDatabase: true,
    checks: {
      allowedTargets: ['127.0.0.1'],
      timeoutMs: 5_000,
      ...(variant === 'baseline'
        ? {
            answers: { maxChars: UNBOUNDED, maxDepth: UNBOUNDED, maxTokens: UNBOUNDED },
            concurrency: { perKey: UNBOUNDED, perProcess: UNBOUNDED },
          }
        : {}),
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const created = await app.inject({
    method: 'POST',
    url: '/api/connectors',
    headers: { authorization: `Bearer ${tenant}`, 'content-type': 'application/json' },
    payload: JSON.stringify({
      name: 'tenant jira',
      type: 'jira',
      params: { url: 'https://jira.example.com', email: 'a@example.com', password: 'secret-1' },
    }),
  });
  const connectorId = JSON.parse(created.body).id;
  process.stdout.write(`${JSON.stringify({ port, attacker, tenant, connectorId })}\n`);
  process.once('SIGTERM', async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

/**
 * @param {string} url
 * @param {{ method?: string; key?: string; body?: unknown }} [options]
 * @returns {Promise<{ status: number; ms: number }>}
 */
function request(url, { method = 'GET', key, body } = {}) {
  const started = performance.now();
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(payload);
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {number[]} values
 * @param {number} q
 */
function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/**
 * One phase: the other tenant's reads and /healthz, with or without the hostile checks.
 * @param {string} base
 * @param {Ready} ready
 * @param {string} hostileUrl
 * @param {boolean} attack
 */
async function phase(base, ready, hostileUrl, attack) {
  const until = performance.now() + SECONDS * 1000;
  /** @type {number[]} */ const tenant = [];
  /** @type {number[]} */ const health = [];
  /** @type {Record<string, number>} */ const tenantStatuses = {};
  /** @type {Record<string, number>} */ const checkStatuses = {};
  const tenantLoop = async () => {
    while (performance.now() < until) {
      const { status, ms } = await request(`${base}/api/connectors/${ready.connectorId}`, {
        key: ready.tenant,
      });
      tenant.push(ms);
      tenantStatuses[status] = (tenantStatuses[status] ?? 0) + 1;
    }
  };
  const healthLoop = async () => {
    while (performance.now() < until) {
      health.push((await request(`${base}/healthz`)).ms);
      await sleep(20);
    }
  };
  const attackLoop = async () => {
    const body = {
      name: 'x',
      type: 'jira',
      params: { url: hostileUrl, email: 'a@example.com', password: 'p-1234' },
    };
    while (performance.now() < until) {
      const { status } = await request(`${base}/api/connectors/check`, {
        method: 'POST',
        key: ready.attacker,
        body,
      });
      checkStatuses[status] = (checkStatuses[status] ?? 0) + 1;
      if (status === 429 || status === 503) await sleep(100);
    }
  };
  await Promise.all([
    tenantLoop(),
    tenantLoop(),
    healthLoop(),
    ...(attack ? Array.from({ length: 8 }, attackLoop) : []),
  ]);
  return {
    tenantMedian: quantile(tenant, 0.5),
    tenantP99: quantile(tenant, 0.99),
    tenantWorst: Math.max(...tenant),
    tenantCount: tenant.length,
    tenant503: tenantStatuses[503] ?? 0,
    healthMedian: quantile(health, 0.5),
    healthWorst: Math.max(...health),
    checkStatuses,
  };
}

/**
 * @param {Variant} variant
 * @param {string} hostileUrl
 */
async function run(variant, hostileUrl) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', variant], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    /** @type {Ready} */
    const ready = await new Promise((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (chunk) => {
        text += chunk;
        const line = text.split('\n')[0];
        if (text.includes('\n') && line) resolve(JSON.parse(line));
      });
      child.once('exit', (code) =>
        reject(new Error(`the ${variant} server exited (${code}) before it was ready`)),
      );
    });
    const base = `http://127.0.0.1:${ready.port}`;
    const quiet = await phase(base, ready, hostileUrl, false);
    const attacked = await phase(base, ready, hostileUrl, true);
    return { quiet, attacked };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/** @param {number} ms */
const f = (ms) => `${ms.toFixed(1)} ms`;

async function main() {
  const hostile = http.createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json', 'content-length': NESTED.length });
    res.end(NESTED);
  });
  await new Promise((resolve) => hostile.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = hostile.address();
  const hostileUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  /** @type {Record<Variant, Awaited<ReturnType<typeof run>>>} */
  const results = /** @type {any} */ ({});
  try {
    for (const variant of /** @type {const} */ (['baseline', 'bounded'])) {
      results[variant] = await run(variant, hostileUrl);
      const { quiet, attacked } = results[variant];
      console.log(`\n${variant}`);
      console.log(
        `  quiet:    tenant median ${f(quiet.tenantMedian)}, p99 ${f(quiet.tenantP99)}, worst ${f(quiet.tenantWorst)} (${quiet.tenantCount} reads); /healthz median ${f(quiet.healthMedian)}, worst ${f(quiet.healthWorst)}`,
      );
      console.log(
        `  attacked: tenant median ${f(attacked.tenantMedian)}, p99 ${f(attacked.tenantP99)}, worst ${f(attacked.tenantWorst)} (${attacked.tenantCount} reads, ${attacked.tenant503} answered 503); /healthz median ${f(attacked.healthMedian)}, worst ${f(attacked.healthWorst)}; hostile checks by status ${JSON.stringify(attacked.checkStatuses)}`,
      );
    }
  } finally {
    hostile.close();
  }
  const { quiet, attacked } = results.bounded;
  const before = results.baseline.attacked;
  // Relative to the baseline of the same run as well: on a shared machine the absolute figures move
  // with everyone else's load; uptime's load average is printed with them.
  const targets = [
    [`/healthz worst under attack ≤ 100 ms: ${f(attacked.healthWorst)}`, attacked.healthWorst <= 100],
    [
      `/healthz worst under attack ≤ a quarter of the baseline's (${f(before.healthWorst / 4)}): ${f(attacked.healthWorst)}`,
      attacked.healthWorst <= before.healthWorst / 4,
    ],
    [
      `tenant median under attack ≤ 3 × quiet + 2 ms (${f(3 * quiet.tenantMedian + 2)}): ${f(attacked.tenantMedian)}`,
      attacked.tenantMedian <= 3 * quiet.tenantMedian + 2,
    ],
    [
      `tenant median under attack ≤ half the baseline's (${f(before.tenantMedian / 2)}): ${f(attacked.tenantMedian)}`,
      attacked.tenantMedian <= before.tenantMedian / 2,
    ],
    [`no 503 for the tenant under attack: ${attacked.tenant503}`, attacked.tenant503 === 0],
  ];
  console.log(
    `\nload average (1, 5, 15 min): ${loadavg()
      .map((n) => n.toFixed(1))
      .join(', ')}`,
  );
  console.log('\ntargets (bounded server)');
  for (const [text, ok] of targets) console.log(`  ${ok ? 'PASS' : 'FAIL'} ${text}`);
  process.exitCode = targets.every(([, ok]) => ok) ? 0 : 1;
}

if (process.argv[2] === '--serve') await serve(/** @type {Variant} */ (process.argv[3]));
else await main();
