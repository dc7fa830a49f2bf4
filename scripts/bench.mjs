#!/usr/bin/env node
/**
 * `npm run bench`: throughput, latency and memory of the compiled server against the ceiling of a
 * bare Node.js HTTP server on the same machine, and the paging targets, on SQLite and (when it
 * answers) PostgreSQL. `npm run bench -- --help` lists the settings; `--quick` is a smoke run.
 *
 * - Build (npm run build, unless --skip-build), then seed: a throughput database per backend
 *   (--rows connectors in the bench account, --delete-pool more in a second account for the
 *   DELETE case) and a paging database per backend (--paging-rows connectors in one account,
 *   cached between runs), written straight into the database (scripts/bench/seed.mjs).
 * - The server runs pinned to core 0 (taskset -c 0), the load generator (autocannon in a child
 *   process, scripts/bench/load.mjs) and this process on core 1. Without taskset: unpinned, said.
 * - Ceiling: scripts/bench/baseline.mjs, a bare node:http server answering a constant connector,
 *   measured under the same load before and after the cases (the better run is the ceiling).
 * - Throughput cases, each on a fresh server: --warmup s unrecorded, then --duration s recorded,
 *   --connections connections: GET one, list 50, create, update, delete, 90/10 mix. Per case:
 *   requests/s, p50/p99 latency, non-2xx and errors, the server's peak RSS (VmHWM), where the CPU
 *   went (server, PostgreSQL, load generator, other processes; busy % of each core), CPU per
 *   request, and the ratios to the ceiling (by requests/s and by CPU per request).
 * - Paging targets (scripts/bench/paging.mjs): page walk, deep page, startup (with the startup of
 *   the bare server as the floor).
 *
 * Prints a table, the target lines, and one JSON document (also written to --out).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HELP, parseOptions } from './bench/options.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const runStarted = performance.now();
const log = (line = '') => process.stdout.write(`${line}\n`);

let options;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (error) {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exit(2);
}
if (options.help) {
  log(HELP);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Build, then the modules that import dist/

if (!options.skipBuild) {
  log('bench: npm run build');
  const build = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  );
  if (build.status !== 0) {
    process.stderr.write(
      'bench: the build failed; fix it (or run with --skip-build to use dist/ as it is)\n',
    );
    process.exit(1);
  }
}
if (!existsSync(join(root, 'dist/cli.js'))) {
  process.stderr.write('bench: dist/cli.js is missing; run `npm run build` first\n');
  process.exit(1);
}

/** What was measured: a digest of the compiled code (others may rebuild dist/ while the bench runs). */
function distDigest() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js')) hash.update(path).update(readFileSync(path));
    }
  };
  walk(join(root, 'dist'));
  return hash.digest('hex').slice(0, 16);
}
const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
const source = {
  commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
  uncommittedSrcFiles: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length,
  distDigestAtStart: distDigest(),
};

const seed = await import('./bench/seed.mjs');
const server = await import('./bench/server.mjs');
const { measurePaging } = await import('./bench/paging.mjs');
const { connectorFor } = await import('./bench/workload.mjs');

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.killChildren();
    process.stderr.write(`bench: interrupted (${signal})\n`);
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------
// The machine

const cpuModel =
  /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ??
  cpus()[0]?.model ??
  'unknown';
const cores = cpus().length;
const tasksetFound = server.hasTaskset();
const pin = tasksetFound && cores >= 2;
const pinning = pin
  ? 'server on core 0 (taskset -c 0); load generator and bench client on core 1 (taskset -c 1)'
  : `NOT pinned: ${tasksetFound ? `only ${cores} core` : 'taskset is missing'}; server and load generator share the cores`;
const SERVER_CORE = 0;
const CLIENT_CORE = 1;

/** CPU used by other processes over one second now, in % of one core: others at work disturb the numbers. */
async function otherLoadNow() {
  const before = server.cpuSnapshot();
  const coresBefore = server.coreTimes();
  await new Promise((done) => setTimeout(done, 1000));
  const split = server.cpuBetween(before, server.cpuSnapshot(), { serverPid: -1, loadPid: -1 });
  return Math.max(0, server.processSecondsBetween(coresBefore, server.coreTimes()) - split.bench) * 100;
}
const quietBefore = await otherLoadNow();
const QUIET_PERCENT = 10;

/** With --wait-quiet: waits (up to that long) until other processes use under 10 % of a core. */
async function waitQuiet(what) {
  if (options.waitQuiet <= 0) return 0;
  const started = performance.now();
  let load = await otherLoadNow();
  while (load >= QUIET_PERCENT && performance.now() - started < options.waitQuiet * 1000) {
    load = await otherLoadNow();
  }
  const waited = (performance.now() - started) / 1000;
  if (waited > 1.5) {
    log(
      `  (waited ${waited.toFixed(0)} s for a quiet machine before ${what}; other processes now at ${load.toFixed(0)} %)`,
    );
  }
  return waited;
}

const runDir = mkdtempSync(join(tmpdir(), 'plugboard-bench-'));
const cacheDir = resolve(root, options.cacheDir);
mkdirSync(cacheDir, { recursive: true });
const runId = Date.now().toString(36);
const backendsWanted = options.backends;
const skipped = [];
let postgresProblem;
if (backendsWanted.includes('postgres')) {
  postgresProblem = await seed.postgresProblem(options.postgresAdminUrl);
  if (postgresProblem) {
    skipped.push({ backend: 'postgres', reason: `PostgreSQL does not answer: ${postgresProblem}` });
  }
}
const backends = backendsWanted.filter((b) => b !== 'postgres' || !postgresProblem);
const postgresShown = (() => {
  try {
    const url = new URL(options.postgresAdminUrl);
    return `${url.hostname}:${url.port || 5432}`;
  } catch {
    return 'the configured server';
  }
})();

log('');
log('── Plugboard bench ──');
log(`date:        ${new Date().toISOString()}`);
log(`machine:     ${cpuModel}, ${cores} cores, node ${process.version}`);
log(
  `code:        commit ${source.commit}${source.uncommittedSrcFiles > 0 ? ` with ${source.uncommittedSrcFiles} uncommitted file(s) in src/` : ''}, dist/ digest ${source.distDigestAtStart}`,
);
log(`pinning:     ${pinning}`);
log(
  `other load:  ${quietBefore.toFixed(0)} % of a core used by other processes in the second before the run${quietBefore > 10 ? ' (WARNING: a busy machine makes the numbers lower and noisier; see "other CPU %" per case)' : ''}`,
);
log(
  `server:      LOG_LEVEL=${options.logLevel} (no per-request log lines), no rate limit, PLUGBOARD_SQLITE_SYNCHRONOUS=${options.sqliteSynchronous}, PostgreSQL DATABASE_POOL_SIZE default (10)`,
);
if (options.parts.includes('throughput') || options.parts.includes('baseline')) {
  log(
    `load:        autocannon, ${options.connections} connections, ${options.warmup} s warm-up + ${options.duration} s per case, a fresh server per case`,
  );
}
if (options.parts.includes('throughput')) {
  log(
    `throughput:  ${options.rows} connectors in the bench account (+ ${options.deletePool} in another, to delete)`,
  );
}
if (options.parts.includes('paging')) {
  log(
    `paging:      ${options.pagingRows} connectors in one account; ${options.startupRuns} starts, ${options.pageSamples} requests per sample, walk budget ${options.walkBudget} s`,
  );
}
log(
  `backends:    ${backends.join(', ') || 'none'}${skipped.map((s) => `; ${s.backend} skipped: ${s.reason}`).join('')}`,
);
if (backends.includes('postgres')) {
  log(`postgres:    ${postgresShown} (PostgreSQL itself is not pinned: it runs on either core)`);
}
log(`scratch:     ${runDir}`);

// ---------------------------------------------------------------------------------------------
// Seeding

const wants = (part) => options.parts.includes(part);
const throughputDbs = {};
const pagingDbs = {};
const TP_DATABASE = `${options.postgresDatabase}_tp`;
/** One cached paging database per size, so that a --quick run does not evict the 1,000,000-row one. */
const PAGING_DATABASE =
  options.pagingRows === 1_000_000
    ? options.postgresDatabase
    : `${options.postgresDatabase}_${options.pagingRows}`;

/** Seeding progress: a line rewritten in place on a terminal, only the last line otherwise. */
function progress(label) {
  let next = 0;
  return (done, total) => {
    if (!process.stdout.isTTY) return;
    if (done >= next || done === total) {
      process.stdout.write(`\r  ${label}: ${done}/${total}`);
      next = done + Math.max(1, Math.floor(total / 20));
      if (done === total) process.stdout.write('\r\x1b[K');
    }
  };
}

log('');
log('── seeding ──');
for (const backend of backends) {
  try {
    if (wants('throughput')) {
      const masterKey = seed.newMasterKey();
      const spec = {
        rows: options.rows,
        deletePool: options.deletePool,
        masterKey,
        collectIds: true,
        progress: progress(`${backend} throughput database`),
      };
      const seeded =
        backend === 'sqlite'
          ? await seed.seedSqlite(join(runDir, 'throughput.db'), spec)
          : await seed.seedPostgres(options.postgresAdminUrl, TP_DATABASE, spec);
      throughputDbs[backend] = {
        ...seeded,
        masterKey,
        databaseUrl: backend === 'sqlite' ? `sqlite:${join(runDir, 'throughput.db')}` : seeded.url,
      };
      log(
        `  ${backend} throughput database: ${options.rows} + ${options.deletePool} connectors in ${seeded.seconds.toFixed(1)} s`,
      );
    }
    if (wants('paging')) {
      const label = `${backend} paging database`;
      const paging =
        backend === 'sqlite'
          ? await seed.sqlitePagingDatabase(cacheDir, options.pagingRows, {
              fresh: options.fresh,
              progress: progress(label),
            })
          : await seed.postgresPagingDatabase(options.postgresAdminUrl, PAGING_DATABASE, options.pagingRows, {
              fresh: options.fresh,
              progress: progress(label),
            });
      pagingDbs[backend] = {
        ...paging,
        databaseUrl: backend === 'sqlite' ? `sqlite:${paging.path}` : paging.url,
      };
      log(
        `  ${label}: ${options.pagingRows} connectors, ${paging.cached ? `reused from the cache (${paging.path ?? PAGING_DATABASE})` : `seeded in ${paging.seconds.toFixed(1)} s`}`,
      );
    }
  } catch (error) {
    skipped.push({ backend, reason: `seeding failed: ${error.stack ?? error}` });
    log(`  ${backend}: seeding failed, its cases are skipped: ${error.message}`);
  }
}

if (pin && !server.pinSelf(CLIENT_CORE)) log('bench: could not pin this process to core 1; measuring anyway');

// ---------------------------------------------------------------------------------------------
// Servers

const pluginEnv = (databaseUrl, masterKey) => {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'NODE_OPTIONS' || name === 'REDIS_URL' || name === 'LOG_LEVEL') continue;
    if (name.startsWith('PLUGBOARD_') || name.startsWith('DATABASE_') || name.startsWith('BENCH_')) continue;
    env[name] = value;
  }
  return {
    ...env,
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: options.logLevel,
    PLUGBOARD_MASTER_KEY: masterKey,
    PLUGBOARD_SQLITE_SYNCHRONOUS: options.sqliteSynchronous,
  };
};
const bin = join(root, 'bin/plugboard.js');
let serverCount = 0;

function startPlugboard(backend, db) {
  serverCount++;
  return server.startServer({
    args: [bin, 'serve'],
    env: pluginEnv(db.databaseUrl, db.masterKey),
    cwd: runDir,
    core: SERVER_CORE,
    pin,
    logPath: join(runDir, `server-${backend}.log`),
    readyPath: '/healthz',
    describe: `the ${backend} server`,
  });
}

const baselineConnector = (() => {
  const { type, name, params } = connectorFor(17);
  const at = '2026-01-01T00:00:00.119Z';
  return JSON.stringify({
    id: 'AbCdEfGhIjKlMnOpQrStUv',
    type: type.id,
    name,
    createdAt: at,
    updatedAt: at,
    params,
  });
})();

function startBaseline() {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, BASELINE_BODY: baselineConnector };
  return server.startServer({
    args: [join(root, 'scripts/bench/baseline.mjs')],
    env,
    cwd: runDir,
    core: SERVER_CORE,
    pin,
    logPath: join(runDir, 'baseline.log'),
    readyPath: '/',
    describe: 'the baseline server',
  });
}

/**
 * Runs the load generator against `target` with `plan`; while it measures, samples the server's
 * RSS and accounts where the machine's CPU went (server, load generator, PostgreSQL, others).
 */
async function runLoad(target, plan, database) {
  const planPath = join(runDir, `plan-${plan.name}.json`);
  const output = join(runDir, `result-${plan.name}.json`);
  writeFileSync(planPath, JSON.stringify({ ...plan, url: target.base, output }));
  const child = server.spawnNode([join(root, 'scripts/bench/load.mjs'), planPath], {
    core: CLIENT_CORE,
    pin,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    cwd: root,
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  let stopSampling;
  let cpuStart;
  let cpuEnd;
  let coresStart;
  let coresEnd;
  let measureStarted;
  let measureEnded;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line === 'measure-start') {
      measureStarted = performance.now();
      cpuStart = server.cpuSnapshot();
      coresStart = server.coreTimes();
      stopSampling = server.sampleRss(target.pid, 100);
    } else if (line === 'done') {
      measureEnded = performance.now();
      cpuEnd = server.cpuSnapshot();
      coresEnd = server.coreTimes();
    }
  });
  const status = await child.exited;
  const sampledRssKiB = stopSampling?.();
  if (status.code !== 0 || !measureEnded) {
    throw new Error(`the load generator failed (${JSON.stringify(status)}): ${stderr.slice(-2000)}`);
  }
  const result = JSON.parse(readFileSync(output, 'utf8'));
  const wall = (measureEnded - measureStarted) / 1000;
  const cpu = server.cpuBetween(cpuStart, cpuEnd, { serverPid: target.pid, loadPid: child.pid, database });
  const percent = (seconds) => (seconds / wall) * 100;
  const { hwmKiB } = server.procStatus(target.pid);
  const busy = server.coreBusyBetween(coresStart, coresEnd);
  const serving = cpu.server + (database ? cpu.database : 0);
  return {
    ...result,
    coreBusyPercent: busy,
    serverCoreBusyPercent: pin ? busy[SERVER_CORE] : null,
    clientCoreBusyPercent: pin ? busy[CLIENT_CORE] : null,
    cpuMicrosPerRequest: result.responses > 0 ? (serving / result.responses) * 1e6 : null,
    serverCpuPercent: percent(cpu.server),
    loadCpuPercent: percent(cpu.load),
    databaseCpuPercent: database ? percent(cpu.database) : null,
    // Everything processes used on the machine but the bench's own: catches short-lived processes too.
    otherCpuPercent: percent(
      Math.max(
        0,
        server.processSecondsBetween(coresStart, coresEnd) - cpu.server - cpu.load - cpu.bench - cpu.database,
      ),
    ),
    peakRssMiB: (hwmKiB ?? 0) / 1024,
    sampledPeakRssMiB: (sampledRssKiB ?? 0) / 1024,
  };
}

const basePlan = (name, kind) => ({
  name,
  kind,
  connections: options.connections,
  warmupSeconds: options.warmup,
  durationSeconds: options.duration,
  namePrefix: `bench ${runId} ${name}`,
  timeoutSeconds: 10,
});

// ---------------------------------------------------------------------------------------------
// Baseline and throughput

const results = [];
let baseline;

function caseLine(r) {
  log(
    `  ${r.backend.padEnd(8)} ${r.case.padEnd(12)} ${fmt(r.rps, 0).padStart(7)} req/s  p50 ${fmt(r.p50Ms, 2)} ms  p99 ${fmt(r.p99Ms, 2)} ms  non-2xx ${r.non2xx}  errors ${r.errors}  RSS ${fmt(r.peakRssMiB, 0)} MiB  CPU: server ${fmt(r.serverCpuPercent, 0)} %${r.databaseCpuPercent == null ? '' : `, PostgreSQL ${fmt(r.databaseCpuPercent, 0)} %`}, load ${fmt(r.loadCpuPercent, 0)} %, other ${fmt(r.otherCpuPercent, 0)} %`,
  );
  log(
    `      bound by: ${r.boundBy} (busy core 0 ${fmt(r.serverCoreBusyPercent, 0)} %, core 1 ${fmt(r.clientCoreBusyPercent, 0)} %); ${fmt(r.cpuMicrosPerRequest, 0)} µs CPU per request`,
  );
  for (const sample of r.nonOkSamples ?? []) log(`      non-2xx sample: ${sample.status} ${sample.body}`);
  if (r.poolExhausted)
    log('      the delete pool ran out before the duration: measured over the shorter time');
}

function fmt(value, digits) {
  return value === null || value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}

/** Which core ran out: the server's, the load generator's, or neither (waiting on I/O or PostgreSQL). */
function boundBy(raw) {
  if (raw.serverCoreBusyPercent == null) return 'unknown (not pinned)';
  if (raw.serverCoreBusyPercent >= 90) return 'server core';
  if (raw.clientCoreBusyPercent >= 90) return 'load generator';
  return 'neither core';
}

function summarize(backend, name, raw) {
  return {
    disturbed: raw.otherCpuPercent >= QUIET_PERCENT,
    boundBy: boundBy(raw),
    backend,
    case: name,
    rps: raw.rps,
    p50Ms: raw.latencyMs.p50,
    p90Ms: raw.latencyMs.p90,
    p99Ms: raw.latencyMs.p99,
    meanMs: raw.latencyMs.mean,
    maxMs: raw.latencyMs.max,
    responses: raw.responses,
    seconds: raw.seconds,
    statuses: raw.statuses,
    non2xx: raw.non2xx,
    errors: raw.errors,
    timeouts: raw.timeouts,
    peakRssMiB: raw.peakRssMiB,
    sampledPeakRssMiB: raw.sampledPeakRssMiB,
    serverCpuPercent: raw.serverCpuPercent,
    loadCpuPercent: raw.loadCpuPercent,
    databaseCpuPercent: raw.databaseCpuPercent,
    otherCpuPercent: raw.otherCpuPercent,
    serverCoreBusyPercent: raw.serverCoreBusyPercent,
    clientCoreBusyPercent: raw.clientCoreBusyPercent,
    cpuMicrosPerRequest: raw.cpuMicrosPerRequest,
    connections: raw.connections,
    ops: raw.ops,
    ...(raw.nonOkSamples?.length ? { nonOkSamples: raw.nonOkSamples } : {}),
    ...(raw.poolExhausted !== undefined
      ? { deletePool: raw.deletePool, poolExhausted: raw.poolExhausted }
      : {}),
  };
}

/** One run of the bare node:http server under the same load as the cases. */
async function measureBaseline(label) {
  log('');
  log(`── ${label}: bare node:http answering a constant connector ──`);
  await waitQuiet(label);
  const target = await startBaseline();
  try {
    const ids = throughputDbs.sqlite?.ids ??
      throughputDbs.postgres?.ids ?? [['AbCdEfGhIjKlMnOpQrStUv', 'jira']];
    const raw = await runLoad(target, {
      ...basePlan(label.replaceAll(' ', '-'), 'baseline'),
      ids,
      apiKey: 'none',
    });
    const row = summarize('node:http', label, raw);
    row.bodyBytes = Buffer.byteLength(baselineConnector);
    caseLine(row);
    if (row.boundBy === 'load generator') {
      log(
        `  note: the load generator's core was the limit (${fmt(row.clientCoreBusyPercent, 0)} % busy; the bare server's core ${fmt(row.serverCoreBusyPercent, 0)} %): node:http can serve more than this, so "vs ceiling" overstates every case; "vs ceiling by CPU" compares CPU per request instead`,
      );
    }
    return row;
  } finally {
    await target.stop();
  }
}

/** The ceiling is measured before and after the cases; the better of the two is used. */
const baselines = [];
if (wants('baseline') || wants('throughput')) baselines.push(await measureBaseline('ceiling'));

const CASES = [
  ['GET one', 'get'],
  ['list 50', 'list'],
  ['create', 'create'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['mix 90/10', 'mix'],
];

if (wants('throughput')) {
  for (const backend of backends) {
    const db = throughputDbs[backend];
    if (!db) continue;
    log('');
    log(`── throughput: ${backend} ──`);
    for (const [label, kind] of CASES.filter(([, kind]) => options.cases.includes(kind))) {
      let target;
      try {
        await waitQuiet(`${backend} ${label}`);
        target = await startPlugboard(backend, db);
        const raw = await runLoad(
          target,
          {
            ...basePlan(`${backend}-${kind}`, kind),
            apiKey: db.apiKey,
            deleteApiKey: db.deleteApiKey,
            ids: db.ids,
            deleteIds: kind === 'delete' ? db.deleteIds : [],
          },
          backend === 'postgres' ? TP_DATABASE : undefined,
        );
        const row = summarize(backend, label, raw);
        results.push(row);
        caseLine(row);
      } catch (error) {
        results.push({ backend, case: label, error: String(error.message ?? error) });
        log(`  ${backend} ${label}: FAILED: ${error.message}`);
      } finally {
        const exit = await target?.stop();
        if (exit && exit.code !== 0 && exit.signal !== 'SIGTERM') {
          log(`  ${backend} ${label}: the server exited with ${JSON.stringify(exit)}; see ${runDir}`);
        }
      }
    }
  }
}

if (wants('throughput') && results.length > 0) baselines.push(await measureBaseline('ceiling again'));
if (baselines.length > 0) {
  const bestRps = Math.max(...baselines.map((b) => b.rps));
  const leanest = Math.min(...baselines.map((b) => b.cpuMicrosPerRequest ?? Number.POSITIVE_INFINITY));
  baseline = baselines.find((b) => b.rps === bestRps);
  for (const row of [...baselines, ...results]) {
    if (row.error) continue;
    row.ratioToCeiling = row.rps / bestRps;
    row.ratioToCeilingByCpu =
      row.cpuMicrosPerRequest && Number.isFinite(leanest) ? leanest / row.cpuMicrosPerRequest : null;
  }
  baseline.ceilingRps = bestRps;
  baseline.ceilingCpuMicrosPerRequest = leanest;
  if (baselines.length > 1) {
    log(
      `  the ceiling used: ${bestRps.toFixed(0)} req/s (the higher of ${baselines.map((b) => b.rps.toFixed(0)).join(' and ')}), ${leanest.toFixed(1)} µs CPU per request (the lower)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Paging targets

const paging = [];
let startupFloor;
if (wants('paging') && backends.some((backend) => pagingDbs[backend])) {
  // The floor under the startup target: a bare node:http server from spawn to its first answer.
  log('');
  const samples = [];
  for (let i = 0; i < options.startupRuns; i++) {
    const target = await startBaseline();
    samples.push(target.startupMs);
    await target.stop();
  }
  startupFloor = {
    samplesMs: samples,
    medianMs: samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)],
  };
  log(
    `startup floor: a bare node:http server answers ${samples.map((ms) => ms.toFixed(0)).join(', ')} ms after its spawn (the same pinning and polling)`,
  );
}
if (wants('paging')) {
  for (const backend of backends) {
    const db = pagingDbs[backend];
    if (!db) continue;
    log('');
    log(`── paging targets: ${backend}, ${options.pagingRows} connectors in one account ──`);
    try {
      const measured = await measurePaging({
        backend,
        rows: options.pagingRows,
        apiKey: db.apiKey,
        start: () => startPlugboard(`${backend}-paging`, db),
        waitQuiet,
        hwm: (pid) => server.procStatus(pid).hwmKiB,
        cpuOf: (pid) => server.cpuSeconds(pid) ?? 0,
        cpuWatch: (pid) => {
          const before = server.cpuSnapshot();
          const coresBefore = server.coreTimes();
          const started = performance.now();
          // `serversGone`: CPU seconds of servers that ran in between and exited (their pid is gone).
          return (serversGone = 0) => {
            const seconds = (performance.now() - started) / 1000;
            const split = server.cpuBetween(before, server.cpuSnapshot(), {
              serverPid: pid,
              loadPid: -1,
              database: backend === 'postgres' ? PAGING_DATABASE : undefined,
            });
            split.server += serversGone;
            const processes = server.processSecondsBetween(coresBefore, server.coreTimes());
            split.other = Math.max(0, processes - split.server - split.bench - split.database);
            const percent = (value) => (value / seconds) * 100;
            return {
              serverCpuPercent: percent(split.server),
              databaseCpuPercent: backend === 'postgres' ? percent(split.database) : null,
              benchCpuPercent: percent(split.bench),
              otherCpuPercent: percent(split.other),
            };
          };
        },
        settings: {
          startupRuns: options.startupRuns,
          pageSamples: options.pageSamples,
          walkBudgetMs: options.walkBudget * 1000,
          deepBudgetMs: options.deepBudget * 1000,
          startupFloorMs: startupFloor?.medianMs,
        },
        log,
      });
      measured.seeding = { cached: db.cached, seconds: db.seconds };
      paging.push(measured);
    } catch (error) {
      paging.push({ backend, rows: options.pagingRows, error: String(error.message ?? error) });
      log(`  ${backend}: FAILED: ${error.message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function table(rows, columns) {
  const cells = rows.map((row) => columns.map((c) => c.get(row)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) =>
    values.map((v, i) => (columns[i].left ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [
    line(columns.map((c) => c.title)),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...cells.map(line),
  ].join('\n');
}

log('');
log('── results ──');
const rowsForTable = [...baselines, ...results];
if (rowsForTable.length > 0) {
  log(
    table(rowsForTable, [
      { title: 'case', left: true, get: (r) => r.case },
      { title: 'backend', left: true, get: (r) => r.backend },
      { title: 'req/s', get: (r) => (r.error ? 'FAILED' : fmt(r.rps, 0)) },
      { title: 'p50 ms', get: (r) => fmt(r.p50Ms, 2) },
      { title: 'p99 ms', get: (r) => fmt(r.p99Ms, 2) },
      { title: 'non-2xx', get: (r) => String(r.non2xx ?? 'n/a') },
      { title: 'errors', get: (r) => String(r.errors === undefined ? 'n/a' : r.errors + (r.timeouts ?? 0)) },
      { title: 'peak RSS MiB', get: (r) => fmt(r.peakRssMiB, 0) },
      {
        title: 'vs ceiling',
        get: (r) => (r.ratioToCeiling == null ? 'n/a' : r.ratioToCeiling.toFixed(3)),
      },
      { title: 'CPU µs/req', get: (r) => fmt(r.cpuMicrosPerRequest, 0) },
      {
        title: 'vs ceiling by CPU',
        get: (r) => (r.ratioToCeilingByCpu == null ? 'n/a' : r.ratioToCeilingByCpu.toFixed(3)),
      },
      {
        title: 'busy core 0/1 %',
        get: (r) =>
          r.serverCoreBusyPercent == null
            ? 'n/a'
            : `${fmt(r.serverCoreBusyPercent, 0)}/${fmt(r.clientCoreBusyPercent, 0)}`,
      },
      { title: 'other CPU %', get: (r) => fmt(r.otherCpuPercent, 0) },
    ]),
  );
  log(
    [
      '(peak RSS: VmHWM of the server process over its start, warm-up and case, MiB. errors: connection errors and timeouts.',
      ' vs ceiling: req/s ÷ the bare node:http req/s. CPU µs/req: CPU time of the server process (and of PostgreSQL',
      " serving the bench database) per response; vs ceiling by CPU: the bare server's CPU µs/req ÷ the case's, the ratio",
      " if both were CPU-bound. busy core 0/1: the server's and the load generator's core, all processes and interrupts.",
      ' other CPU %: processes not part of the bench (other users of the machine), in % of one core.)',
    ].join('\n'),
  );
}

const targets = [];
for (const p of paging) {
  if (p.error) {
    targets.push({
      backend: p.backend,
      name: 'paging measurements',
      pass: false,
      detail: `FAILED: ${p.error}`,
    });
    continue;
  }
  for (const t of p.targets) targets.push({ backend: p.backend, rows: p.rows, ...t });
}
if (targets.length > 0) {
  log('');
  const scaled =
    options.pagingRows !== 1_000_000 ? ` (measured on ${options.pagingRows} rows, not 1,000,000)` : '';
  log(`paging targets${scaled}:`);
  for (const t of targets) {
    log(
      `  ${t.pass ? 'PASS' : 'FAIL'}  ${t.backend.padEnd(8)} ${t.name}: ${t.detail}${t.disturbed ? ' [disturbed: other processes used ≥ 10 % of a core meanwhile]' : ''}`,
    );
  }
}
const disturbed = rowsForTable.filter((r) => r.disturbed);
if (disturbed.length > 0) {
  log('');
  log(
    `WARNING: ${disturbed.length} of ${rowsForTable.length} cases ran while other processes used ≥ ${QUIET_PERCENT} % of a core (see "other CPU %"): their numbers are lower and noisier than this machine can do${options.waitQuiet > 0 ? '' : '; --wait-quiet S waits for a quiet machine before each case'}`,
  );
}
for (const s of skipped) log(`SKIPPED ${s.backend}: ${s.reason.split('\n')[0]}`);

source.distDigestAtEnd = distDigest();
if (source.distDigestAtEnd !== source.distDigestAtStart) {
  log(
    `WARNING: dist/ changed during the run (${source.distDigestAtStart} → ${source.distDigestAtEnd}): someone rebuilt it; the cases may have run different code`,
  );
}
const totalSeconds = (performance.now() - runStarted) / 1000;
const document = {
  date: new Date().toISOString(),
  node: process.version,
  machine: {
    cpu: cpuModel,
    cores,
    otherCpuPercentBeforeRun: quietBefore,
    memoryMiB: Math.round(
      Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 1024,
    ),
  },
  source,
  pinning: {
    used: pin,
    tasksetFound,
    serverCore: pin ? SERVER_CORE : null,
    clientCore: pin ? CLIENT_CORE : null,
    description: pinning,
  },
  settings: {
    durationSeconds: options.duration,
    warmupSeconds: options.warmup,
    connections: options.connections,
    throughputRows: options.rows,
    deletePool: options.deletePool,
    pagingRows: options.pagingRows,
    startupRuns: options.startupRuns,
    pageSamples: options.pageSamples,
    walkBudgetSeconds: options.walkBudget,
    waitQuietSeconds: options.waitQuiet,
    serverLogLevel: options.logLevel,
    sqliteSynchronous: options.sqliteSynchronous,
    postgresPoolSize: 10,
    quick: options.quick,
    mix: '60 % GET one, 30 % list 50, 5 % create, 5 % update',
    loadGenerator: 'autocannon 8 (programmatic, one process)',
    latency: 'per response, high resolution, all statuses',
  },
  backends,
  skipped,
  baseline: baseline ?? null,
  baselines,
  throughput: results,
  paging,
  startupFloor: startupFloor ?? null,
  targets,
  serversStarted: serverCount,
  totalSeconds,
};
const outPath = resolve(root, options.out);
writeFileSync(outPath, `${JSON.stringify(document, null, 2)}\n`);
log('');
log(JSON.stringify(document));
log('');
log(`bench: done in ${(totalSeconds / 60).toFixed(1)} min; results in ${outPath}`);

// Clean up: the scratch directory (server logs kept when something failed) and the throughput database.
const failed = results.some((r) => r.error) || paging.some((p) => p.error);
if (throughputDbs.postgres)
  await seed.dropPostgresDatabase(options.postgresAdminUrl, TP_DATABASE).catch(() => {});
if (failed) log(`bench: server logs kept in ${runDir}`);
else rmSync(runDir, { recursive: true, force: true });

const unclean =
  results.some((r) => r.error || r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) ||
  baselines.some((b) => b.non2xx > 0);
if (options.strict && (unclean || targets.some((t) => !t.pass))) process.exit(1);
