#!/usr/bin/env node
/**
 * `npm run soak`: a soak test of the built server (it runs `npm run build` first).
 *
 * Starts `node bin/plugboard.js serve` on 127.0.0.1 with a temporary database, creates keys for two
 * accounts with `plugboard keys create`, and runs a mixed workload at a fixed rate from five keys:
 * creates (some with Idempotency-Key and a retry), reads by id and by name, lists, updates,
 * deletes, checks of not_checkable types, the type catalog and the audit trail. It keeps a model
 * of each account from the acknowledged responses; at the end it lists every account through the
 * API and compares names, types and params with the model.
 *
 * Prints requests, errors by status, p50/p99 latency and the server's RSS every 10 s, and exits
 * non-zero on a mismatch, any error, or RSS that grew after a warm-up (a minute or a quarter of the
 * run) by more than 24 MiB and 20 %, peak against peak (the first third against the last). Settings: SOAK_SECONDS (default 600), SOAK_RATE
 * (requests per second, default 200), SOAK_SKIP_BUILD=1. Nothing leaves 127.0.0.1.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './bench/server.mjs';

/** A connector's content as the soak sends it and models it. @typedef {{ type: string; name: string; params: Record<string, string> }} Content */
/**
 * An account, with what the soak knows it holds.
 * @typedef {object} Account
 * @property {string} name
 * @property {string[]} writeKeys
 * @property {string} readKey
 * @property {Map<string, Content>} model id → content, as acknowledged
 * @property {Set<string>} busy ids with a write in flight: not picked again until it is answered
 */
/** The parsed body of an answer, as the API documents it (not checked here: the comparisons are). @typedef {any} Json */

const root = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = positive('SOAK_SECONDS', 600);
const RATE = positive('SOAK_RATE', 200);
const MAX_IN_FLIGHT = 512;
const TIMEOUT_MS = 10_000;

/** @param {string} name @param {number} fallback */
function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`soak: ${name} must be a positive number\n`);
    process.exit(2);
  }
  return value;
}

/** @param {string} line */
function log(line) {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// The server

if (process.env.SOAK_SKIP_BUILD !== '1') {
  // The whole build: bin/plugboard.js runs the bundle (dist/plugboard.cjs), not dist/cli.js.
  log('soak: npm run build');
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(1);
}
const bin = join(root, 'bin/plugboard.js');
if (!existsSync(join(root, 'dist/plugboard.cjs'))) {
  process.stderr.write('soak: dist/plugboard.cjs is missing; run `npm run build` first\n');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'plugboard-soak-'));
const logPath = join(dir, 'server.log');
const apiKey = `soak-${randomBytes(16).toString('hex')}`;

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
/** @type {NodeJS.ProcessEnv} */
const env = {
  ...process.env,
  HOST: '127.0.0.1',
  PORT: String(port),
  DATABASE_URL: `sqlite:${join(dir, 'soak.db')}`,
  LOG_LEVEL: 'warn',
  PLUGBOARD_API_KEY: apiKey,
};
delete env.NODE_OPTIONS;
for (const name of [
  'PLUGBOARD_RATE_LIMIT',
  'REDIS_URL',
  'PLUGBOARD_MASTER_KEY',
  'PLUGBOARD_PREVIOUS_MASTER_KEYS',
]) {
  delete env[name];
}

/** @param {string[]} args */
function run(args) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`plugboard ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

const serverLog = createWriteStream(logPath);
const server = spawn(process.execPath, [bin, 'serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
server.stdout.pipe(serverLog);
server.stderr.pipe(serverLog);
/** @type {{ code: number | null; signal: NodeJS.Signals | null } | undefined} */
let serverExit;
const serverExited = new Promise((resolve) =>
  server.once('close', (code, signal) => {
    serverExit = { code, signal };
    resolve(serverExit);
  }),
);

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  process.stderr.write(`soak: ${message}\nsoak: the server log and database are kept in ${dir}\n`);
  if (!serverExit) server.kill('SIGKILL');
  process.exit(1);
}

function rssKiB() {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
/** @param {number | undefined} kib */
const mib = (kib) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(1)} MiB`);

for (let waited = 0; ; waited += 50) {
  if (serverExit) fail(`the server exited at start (${JSON.stringify(serverExit)})`);
  if (waited > 15_000) fail('the server did not answer /healthz within 15 s');
  try {
    if ((await fetch(`${base}/healthz`)).status === 200) break;
  } catch {
    // not listening yet
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * Keys made with the CLI while the server runs: they work at once.
 * @param {string} account
 * @param {'read' | 'write'} role
 */
function createKey(account, role) {
  const lines = run([
    'keys',
    'create',
    '--account',
    account,
    '--role',
    role,
    '--label',
    `soak ${role}`,
    '--new-account',
  ])
    .trim()
    .split('\n');
  return (lines.at(-1) ?? '').trim();
}
/** @type {Account[]} */
const accounts = [
  {
    name: 'default',
    writeKeys: [apiKey, createKey('default', 'write')],
    readKey: createKey('default', 'read'),
    model: new Map(),
    busy: new Set(),
  },
  {
    name: 'soak-other',
    writeKeys: [createKey('soak-other', 'write')],
    readKey: createKey('soak-other', 'read'),
    model: new Map(),
    busy: new Set(),
  },
];
const rssStart = rssKiB();
/**
 * RSS every 10 s of the run: memory is judged after a warm-up, not from the cold start.
 * @type {{ at: number; kib: number | undefined }[]}
 */
const rssSamples = [];
const WARM_UP_SECONDS = Math.min(60, SECONDS / 4);
/** Growth after the warm-up that counts as a leak: the larger of 24 MiB and 20 % of the warm RSS. */
const GROWTH_LIMIT = { kib: 24 * 1024, fraction: 0.2 };

// ---------------------------------------------------------------------------------------------
// The workload

/**
 * Offline-checkable types only are ever checked; the others are stored, never called.
 * @type {Record<string, (m: string) => Record<string, string>>}
 */
const types = {
  jira: (m) => ({ url: `https://jira.example.com/${m}`, email: `${m}@example.com`, password: `pw-${m}` }),
  zendesk: (m) => ({ url: `https://z.example.com/${m}`, email: `${m}@example.com`, apiKey: `key-${m}` }),
  mattermost: (m) => ({ url: `https://mm.example.com/hooks/${m}` }),
  dingtalk: (m) => ({ url: `https://oapi.dingtalk.com/robot/send?access_token=${m}`, secret: `SEC${m}` }),
  dynamic: (m) => ({ url: `https://hooks.example.com/${m}`, authorization: `Bearer ${m}` }),
  slack: () => ({}),
  google_chat_bot: () => ({}),
};
const typeNames = Object.keys(types);
const checkable = new Set(['mattermost', 'dingtalk', 'dynamic', 'slack', 'google_chat_bot']);

const stats = {
  /** @type {Record<string, number>} */
  byStatus: {},
  /** @type {Record<string, number>} */
  errors: {},
  /** @type {number[]} */
  latencies: [],
  /** @type {string[]} */
  readMismatches: [],
  sent: 0,
  ok: 0,
  backlogSkips: 0,
};
let serial = 0;
let inFlight = 0;

/**
 * @template T
 * @param {readonly T[]} items
 * @returns {T}
 */
function pick(items) {
  return /** @type {T} */ (items[Math.floor(Math.random() * items.length)]);
}

/**
 * An id of the account's connectors with no write in flight (and passing `filter`), if any.
 * @param {Account} account
 * @param {(connector: Content) => boolean} [filter]
 */
function idle(account, filter = () => true) {
  /** @type {string[]} */
  const ids = [];
  for (const [id, connector] of account.model) if (!account.busy.has(id) && filter(connector)) ids.push(id);
  return ids.length === 0 ? undefined : pick(ids);
}

/** @param {Content} a @param {Content} b */
function sameContent(a, b) {
  return a.type === b.type && a.name === b.name && JSON.stringify(a.params) === JSON.stringify(b.params);
}

/**
 * One request; the parsed answer when its status is `expect` (null for an empty body), else
 * undefined, counted as an error.
 * @param {string} method
 * @param {string} path
 * @param {{ key: string; body?: unknown; headers?: Record<string, string>; expect: number }} how
 * @returns {Promise<Json>}
 */
async function request(method, path, { key, body, headers = {}, expect }) {
  const started = performance.now();
  stats.sent++;
  inFlight++;
  let status = 0;
  let text = '';
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    const cause = error instanceof Error ? error.cause : undefined;
    const code =
      typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : undefined;
    const name = code ?? (error instanceof Error ? error.name : 'error');
    stats.errors[name] = (stats.errors[name] ?? 0) + 1;
    return undefined;
  } finally {
    inFlight--;
    stats.latencies.push(performance.now() - started);
  }
  stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  if (status !== expect) {
    const label = `${status} on ${method} ${path.replace(/\/connectors\/[^/?]+/, '/connectors/{id}')}`;
    stats.errors[label] = (stats.errors[label] ?? 0) + 1;
    if (stats.errors[label] === 1) log(`soak: unexpected ${label}: ${text.slice(0, 300)}`);
    return undefined;
  }
  stats.ok++;
  return text === '' ? null : JSON.parse(text);
}

/** @param {string} type @param {string} marker */
const paramsOf = (type, marker) => types[type]?.(marker) ?? {};

/** @param {Account} account */
async function create(account) {
  serial++;
  const type = pick(typeNames);
  const content = { type, name: `soak ${serial}`, params: paramsOf(type, `c${serial}`) };
  const key = pick(account.writeKeys);
  const idempotencyKey = Math.random() < 0.1 ? `soak-${serial}` : undefined;
  /** @type {Record<string, string>} */
  const headers = idempotencyKey ? { 'idempotency-key': idempotencyKey } : {};
  const created = await request('POST', '/api/connectors', { key, body: content, headers, expect: 201 });
  if (!created) return;
  account.model.set(created.id, content);
  if (!sameContent(created, content)) stats.readMismatches.push(`create answered ${JSON.stringify(created)}`);
  if (idempotencyKey) {
    // The client's retry: the same response, nothing new stored.
    account.busy.add(created.id);
    const replay = await request('POST', '/api/connectors', { key, body: content, headers, expect: 201 });
    account.busy.delete(created.id);
    if (replay && replay.id !== created.id) stats.readMismatches.push(`replay created ${replay.id}`);
  }
}

/** @param {Account} account */
async function update(account) {
  const id = idle(account);
  const current = id === undefined ? undefined : account.model.get(id);
  if (!id || !current) return create(account);
  serial++;
  const content = {
    type: current.type,
    name: `soak ${serial} (renamed)`,
    params: paramsOf(current.type, `u${serial}`),
  };
  account.busy.add(id);
  const updated = await request('PUT', `/api/connectors/${id}`, {
    key: pick(account.writeKeys),
    body: content,
    expect: 200,
  });
  account.busy.delete(id);
  if (updated) account.model.set(id, content);
}

/** @param {Account} account */
async function remove(account) {
  const id = idle(account);
  if (!id) return;
  account.busy.add(id);
  const done = await request('DELETE', `/api/connectors/${id}`, {
    key: pick(account.writeKeys),
    expect: 204,
  });
  account.busy.delete(id);
  if (done !== undefined) account.model.delete(id);
}

/** @param {Account} account */
async function read(account) {
  const id = idle(account);
  const expected = id === undefined ? undefined : account.model.get(id);
  if (!id || !expected) return;
  const byName = Math.random() < 0.3;
  account.busy.add(id);
  const path = byName ? `/api/connectors/name/${encodeURIComponent(expected.name)}` : `/api/connectors/${id}`;
  const useRead = Math.random() < 0.3;
  const found = await request('GET', path, {
    key: useRead ? account.readKey : pick(account.writeKeys),
    expect: 200,
  });
  account.busy.delete(id);
  if (!found) return;
  // Nothing else writes this connector meanwhile, so it must read as modelled (read keys: masked).
  const same = useRead
    ? found.name === expected.name && found.type === expected.type
    : sameContent(found, expected);
  if (!same || found.id !== id) stats.readMismatches.push(`read ${id}: ${JSON.stringify(found)}`);
}

/** @param {Account} account */
async function list(account) {
  const size = 1 + Math.floor(Math.random() * 100);
  const start = Math.floor(Math.random() * Math.max(1, account.model.size));
  const key = Math.random() < 0.3 ? account.readKey : pick(account.writeKeys);
  const page = await request('GET', `/api/connectors?start-index=${start}&max-results=${size}`, {
    key,
    expect: 200,
  });
  if (page && (!Array.isArray(page) || page.length > size))
    stats.readMismatches.push('a list page of the wrong size');
}

/** @param {Account} account */
async function check(account) {
  const id = idle(account, (connector) => checkable.has(connector.type));
  if (id && Math.random() < 0.7) {
    account.busy.add(id);
    const result = await request('POST', `/api/connectors/${id}/check`, {
      key: pick(account.writeKeys),
      expect: 200,
    });
    account.busy.delete(id);
    if (result && result.status !== 'not_checkable') stats.readMismatches.push(`check said ${result.status}`);
    return;
  }
  const type = pick([...checkable]);
  await request('POST', '/api/connectors/check', {
    key: pick(account.writeKeys),
    body: { type, name: 'draft', params: paramsOf(type, 'draft') },
    expect: 200,
  });
}

/** @param {Account} account */
async function misc(account) {
  if (Math.random() < 0.5)
    await request('GET', '/api/connector-types', { key: account.readKey, expect: 200 });
  else
    await request('GET', '/api/audit-events?max-results=20', { key: pick(account.writeKeys), expect: 200 });
}

/**
 * One request's worth of work: the mix shifts to keep each account between 20 and 300 connectors.
 * @param {Account} account
 */
function operation(account) {
  const size = account.model.size;
  const r = Math.random();
  if (size < 20 && r < 0.5) return create(account);
  if (size > 300 && r < 0.3) return remove(account);
  if (r < 0.2) return create(account);
  if (r < 0.33) return update(account);
  if (r < 0.41) return remove(account);
  if (r < 0.61) return read(account);
  if (r < 0.83) return list(account);
  if (r < 0.93) return check(account);
  return misc(account);
}

log(
  `soak: ${SECONDS} s at ${RATE} requests/s against ${base} (pid ${server.pid}), accounts ${accounts
    .map((a) => a.name)
    .join(', ')}, ${accounts.reduce((n, a) => n + a.writeKeys.length + 1, 0)} keys`,
);
const started = performance.now();
/** @type {Set<Promise<unknown>>} */
const pending = new Set();
let issued = 0;
let nextReport = 10;
await new Promise((/** @type {(value?: undefined) => void} */ resolve) => {
  const timer = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    if (serverExit) {
      clearInterval(timer);
      resolve();
      return;
    }
    const due = Math.min(Math.floor(elapsed * RATE), Math.floor(SECONDS * RATE));
    while (issued < due) {
      issued++;
      if (inFlight >= MAX_IN_FLIGHT) {
        stats.backlogSkips++;
        continue;
      }
      const work = operation(pick(accounts)).catch((error) => {
        const label = `client: ${error instanceof Error ? error.message : String(error)}`;
        stats.errors[label] = (stats.errors[label] ?? 0) + 1;
      });
      pending.add(work);
      work.finally(() => pending.delete(work));
    }
    if (elapsed >= nextReport) {
      rssSamples.push({ at: elapsed, kib: rssKiB() });
      log(
        `soak: ${Math.round(elapsed)} s, ${stats.sent} requests, ${Object.values(stats.errors).reduce((a, b) => a + b, 0)} errors, ${inFlight} in flight, RSS ${mib(rssKiB())}`,
      );
      nextReport += 10;
    }
    if (issued >= Math.floor(SECONDS * RATE)) {
      clearInterval(timer);
      resolve();
    }
  }, 5);
});
await Promise.all([...pending]);
const elapsed = (performance.now() - started) / 1000;
const rssEnd = rssKiB();
rssSamples.push({ at: elapsed, kib: rssEnd });
// Garbage collection makes RSS a sawtooth (here 96 to 131 MiB and back): compare peaks, the
// highest sample of the first third after the warm-up with the highest of the last third.
const afterWarmUp = rssSamples.filter((sample) => sample.at >= WARM_UP_SECONDS);
const judged = afterWarmUp.length > 0 ? afterWarmUp : rssSamples;
const third = Math.max(1, Math.floor(judged.length / 3));
/** The highest RSS of some samples, in KiB (a sample that could not be read counts as 0). @param {{ kib: number | undefined }[]} samples */
const peakOf = (samples) => Math.max(0, ...samples.map((sample) => sample.kib ?? 0));
const warmKiB = peakOf(judged.slice(0, third));
const endKiB = peakOf(judged.slice(-third));
const growthKiB = endKiB - warmKiB;
const growthLimitKiB = Math.max(GROWTH_LIMIT.kib, warmKiB * GROWTH_LIMIT.fraction);
const memoryFlat = growthKiB <= growthLimitKiB;
if (serverExit) fail(`the server died during the soak (${JSON.stringify(serverExit)})`);

// ---------------------------------------------------------------------------------------------
// The final state, through the API

/** @type {string[]} */
const mismatches = [];
let stored = 0;
for (const account of accounts) {
  /** @type {(Content & { id: string })[]} */
  const listed = [];
  for (let offset = 0; ; offset += 100) {
    const response = await fetch(`${base}/api/connectors?start-index=${offset}&max-results=100`, {
      headers: { authorization: `Bearer ${account.writeKeys[0]}` },
    });
    if (response.status !== 200) fail(`the final list answered ${response.status}`);
    const page = /** @type {(Content & { id: string })[]} */ (await response.json());
    listed.push(...page);
    if (page.length < 100) break;
  }
  stored += listed.length;
  const seen = new Set();
  for (const connector of listed) {
    seen.add(connector.id);
    const expected = account.model.get(connector.id);
    if (!expected) mismatches.push(`${account.name}: unexpected connector ${connector.id} ${connector.name}`);
    else if (!sameContent(connector, expected)) {
      mismatches.push(
        `${account.name}: ${connector.id} is ${JSON.stringify(connector)}, expected ${JSON.stringify(expected)}`,
      );
    }
  }
  for (const [id, expected] of account.model) {
    if (!seen.has(id)) mismatches.push(`${account.name}: missing ${id} ${expected.name}`);
  }
}
mismatches.push(...stats.readMismatches);

server.kill('SIGTERM');
const exit = await Promise.race([
  serverExited,
  /** @type {Promise<undefined>} */ (new Promise((resolve) => setTimeout(() => resolve(undefined), 15_000))),
]);

const sorted = stats.latencies.sort((a, b) => a - b);
/** @param {number} q */
const quantile = (q) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
const errorCount = Object.values(stats.errors).reduce((a, b) => a + b, 0);
/** @param {Record<string, number>} record */
const entries = (record) =>
  Object.entries(record)
    .map(([key, n]) => `${key}: ${n}`)
    .join(', ') || 'none';
log('');
log('── soak ──');
log(`duration:   ${elapsed.toFixed(1)} s at ${RATE} requests/s (target ${SECONDS} s)`);
log(
  `requests:   ${stats.sent} (${(stats.sent / elapsed).toFixed(0)}/s), ok ${stats.ok}, skipped for backlog ${stats.backlogSkips}`,
);
log(`by status:  ${entries(stats.byStatus)}`);
log(`errors:     ${errorCount === 0 ? 'none' : entries(stats.errors)}`);
log(
  `latency:    p50 ${quantile(0.5).toFixed(1)} ms, p99 ${quantile(0.99).toFixed(1)} ms, max ${quantile(1).toFixed(1)} ms`,
);
log(
  `server RSS: start ${mib(rssStart)} (cold); after the warm-up (${Math.round(WARM_UP_SECONDS)} s) the first third peaks at ${mib(warmKiB)}, the last third at ${mib(endKiB)}: ${growthKiB >= 0 ? '+' : ''}${mib(growthKiB)} (limit +${mib(growthLimitKiB)}) ${memoryFlat ? 'flat' : 'GROWING'}`,
);
log(`RSS samples: ${rssSamples.map((sample) => `${Math.round(sample.at)} s ${mib(sample.kib)}`).join(', ')}`);
log(`final:      ${stored} connectors in ${accounts.length} accounts, ${mismatches.length} mismatches`);
for (const mismatch of mismatches.slice(0, 20)) log(`  ${mismatch}`);
log(`shutdown:   ${exit ? `exit ${JSON.stringify(exit)}` : 'did not exit within 15 s'}`);

const failed =
  mismatches.length > 0 ||
  errorCount > 0 ||
  stats.backlogSkips > 0 ||
  !memoryFlat ||
  !exit ||
  exit.code !== 0;
if (failed) {
  process.stderr.write(`soak: FAILED; the server log and database are kept in ${dir}\n`);
  if (!exit) server.kill('SIGKILL');
  process.exit(1);
}
rmSync(dir, { recursive: true, force: true });
log('soak: passed');
