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
 * Prints a table, the target lines, and one JSON document (also written to --out). This file runs
 * the parts in order; scripts/bench/ holds them: options.mjs, machine.mjs (cores, pinning, other
 * load, the code measured), seed.mjs, server.mjs (processes), measure.mjs (a throughput case),
 * load.mjs and baseline.mjs (their processes), paging.mjs, workload.mjs and report.mjs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLIENT_CORE,
  cpuWatch,
  describeMachine,
  distDigest,
  otherLoadNow,
  QUIET_PERCENT,
  quietWaiter,
  SERVER_CORE,
  sourceOf,
} from './bench/machine.mjs';
import { HELP, parseOptions } from './bench/options.mjs';
import { caseLine, fmt, markdownReport, pagingTargets, printTargets, resultsTable } from './bench/report.mjs';
import { medianRows, throughputTargets } from './bench/targets.mjs';

/**
 * @import { LoadKind, LoadPlan } from './bench/load.mjs'
 * @import { CaseRow } from './bench/measure.mjs'
 * @import { PagingResult } from './bench/paging.mjs'
 * @import { PagingDatabase, Seeded } from './bench/seed.mjs'
 * @import { RunningServer } from './bench/server.mjs'
 * @import { BenchOptions } from './bench/options.mjs'
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const runStarted = performance.now();
const log = (line = '') => process.stdout.write(`${line}\n`);

/** @type {BenchOptions} */
let options;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
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
  // tsc, then the bundle that bin/plugboard.js runs (scripts/bundle.mjs): without it the bench
  // measured whatever dist/plugboard.cjs the last full build left.
  let build = { status: /** @type {number | null} */ (0) };
  for (const args of [
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    [join(root, 'scripts/bundle.mjs')],
  ]) {
    build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) break;
  }
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
const source = sourceOf(root);

const seed = await import('./bench/seed.mjs');
const server = await import('./bench/server.mjs');
const { measurePaging } = await import('./bench/paging.mjs');
const { connectorFor } = await import('./bench/workload.mjs');
const { runLoad, summarize } = await import('./bench/measure.mjs');

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.killChildren();
    process.stderr.write(`bench: interrupted (${signal})\n`);
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------
// The machine

const machine = describeMachine();
const { pin } = machine;
const quietBefore = await otherLoadNow();
const waitQuiet = quietWaiter(options.waitQuiet, log);

const runDir = mkdtempSync(join(tmpdir(), 'plugboard-bench-'));
const cacheDir = resolve(root, options.cacheDir);
mkdirSync(cacheDir, { recursive: true });
const runId = Date.now().toString(36);
/** @type {{ backend: string; reason: string }[]} */
const skipped = [];
const postgresProblem = options.backends.includes('postgres')
  ? await seed.postgresProblem(options.postgresAdminUrl)
  : undefined;
if (postgresProblem) {
  skipped.push({ backend: 'postgres', reason: `PostgreSQL does not answer: ${postgresProblem}` });
}
const backends = options.backends.filter((b) => b !== 'postgres' || !postgresProblem);
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
log(`machine:     ${machine.cpuModel}, ${machine.cores} cores, node ${process.version}`);
log(
  `code:        commit ${source.commit}${source.uncommittedSrcFiles > 0 ? ` with ${source.uncommittedSrcFiles} uncommitted file(s) in src/` : ''}, dist/ digest ${source.distDigestAtStart}`,
);
log(`pinning:     ${machine.pinning}`);
log(
  `other load:  ${quietBefore.toFixed(0)} % of a core used by other processes in the second before the run${quietBefore > 10 ? ' (WARNING: a busy machine makes the numbers lower and noisier; see "other CPU %" per case)' : ''}`,
);
log(
  `server:      LOG_LEVEL=${options.logLevel}${options.logLevel === 'info' ? ' (the default: a line per request, to a file)' : ''}, no rate limit, PLUGBOARD_SQLITE_SYNCHRONOUS=${options.sqliteSynchronous}, PostgreSQL DATABASE_POOL_SIZE default (10)`,
);
if (options.parts.includes('throughput') || options.parts.includes('baseline')) {
  log(
    `load:        autocannon, ${options.connections} connections, ${options.warmup} s warm-up + ${options.duration} s per case, a fresh server per case; ${options.rounds} round(s), each after its own ceiling run`,
  );
}
if (options.parts.includes('throughput')) {
  log(
    `throughput:  ${options.rows} connectors in the bench account${options.deletePool > 0 ? ` (+ ${options.deletePool} in another, to delete)` : ''}; cases sqlite ${options.cases.join(',')}, postgres ${options.postgresCases.join(',')}`,
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

/** @param {string} part */
const wants = (part) => options.parts.includes(part);
/** A database a server can start on: its URL and master key. @typedef {{ databaseUrl: string; masterKey: string }} Startable */
/** @type {Record<string, Seeded & Startable>} */
const throughputDbs = {};
/** @type {Record<string, PagingDatabase & Startable>} */
const pagingDbs = {};
const TP_DATABASE = `${options.postgresDatabase}_tp`;
/** One cached paging database per size, so that a --quick run does not evict the 1,000,000-row one. */
const PAGING_DATABASE =
  options.pagingRows === 1_000_000
    ? options.postgresDatabase
    : `${options.postgresDatabase}_${options.pagingRows}`;

/**
 * Seeding progress: a line rewritten in place on a terminal, only the last line otherwise.
 * @param {string} label
 * @returns {(done: number, total: number) => void}
 */
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
        databaseUrl: backend === 'sqlite' ? `sqlite:${join(runDir, 'throughput.db')}` : (seeded.url ?? ''),
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
        databaseUrl: backend === 'sqlite' ? `sqlite:${paging.path}` : (paging.url ?? ''),
      };
      log(
        `  ${label}: ${options.pagingRows} connectors, ${paging.cached ? `reused from the cache (${paging.path ?? PAGING_DATABASE})` : `seeded in ${paging.seconds.toFixed(1)} s`}`,
      );
    }
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    skipped.push({ backend, reason: `seeding failed: ${failure.stack ?? failure}` });
    log(`  ${backend}: seeding failed, its cases are skipped: ${failure.message}`);
  }
}

if (pin && !server.pinSelf(CLIENT_CORE)) log('bench: could not pin this process to core 1; measuring anyway');

// ---------------------------------------------------------------------------------------------
// Servers

/**
 * The environment both servers inherit, ours and the baseline: the bench's own, without what would
 * configure either (NODE_OPTIONS, our settings). The same for both: Node reads some of it at every
 * start whatever the program (NODE_EXTRA_CA_CERTS: this machine kind names 144 certificates, which
 * Node parses into its root store before any JavaScript runs, ~40 ms of CPU a start), and the
 * baseline, started with PATH and HOME alone, did not pay that while ours did.
 */
const inheritedEnv = () => {
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'NODE_OPTIONS' || name === 'REDIS_URL' || name === 'LOG_LEVEL') continue;
    if (name.startsWith('PLUGBOARD_') || name.startsWith('DATABASE_') || name.startsWith('BENCH_')) continue;
    env[name] = value;
  }
  return env;
};

/**
 * The server's environment: the inherited one plus the run's settings.
 * @param {string} databaseUrl
 * @param {string} masterKey
 * @returns {NodeJS.ProcessEnv}
 */
const pluginEnv = (databaseUrl, masterKey) => {
  return {
    ...inheritedEnv(),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: options.logLevel,
    PLUGBOARD_MASTER_KEY: masterKey,
    PLUGBOARD_SQLITE_SYNCHRONOUS: options.sqliteSynchronous,
  };
};
const bin = join(root, 'bin/plugboard.js');
let serverCount = 0;

/**
 * @param {string} backend
 * @param {Startable} db
 */
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
  const env = { ...inheritedEnv(), BASELINE_BODY: baselineConnector };
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
 * @param {string} name
 * @param {LoadKind} kind
 * @returns {Omit<LoadPlan, 'url' | 'output' | 'ids' | 'apiKey'>}
 */
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

/**
 * One run of the bare node:http server under the same load as the cases.
 * @param {string} label
 * @returns {Promise<CaseRow>}
 */
async function measureBaseline(label) {
  log('');
  log(`── ${label}: bare node:http answering a constant connector ──`);
  await waitQuiet(label);
  const target = await startBaseline();
  try {
    /** @type {[string, string][]} */
    const ids = throughputDbs.sqlite?.ids ??
      throughputDbs.postgres?.ids ?? [['AbCdEfGhIjKlMnOpQrStUv', 'jira']];
    const raw = await runLoad(
      target,
      { ...basePlan(label.replaceAll(' ', '-'), 'baseline'), ids, apiKey: 'none' },
      { root, runDir, pin },
    );
    const row = summarize('node:http', label, raw);
    row.bodyBytes = Buffer.byteLength(baselineConnector);
    caseLine(log, row);
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

/** @type {[string, LoadKind][]} */
const CASES = [
  ['GET one', 'get'],
  ['list 50', 'list'],
  ['create', 'create'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['mix 90/10', 'mix'],
];

/**
 * One throughput case on a fresh server.
 * @param {string} backend
 * @param {string} label
 * @param {LoadKind} kind
 * @param {number} round
 * @returns {Promise<CaseRow>}
 */
async function measureCase(backend, label, kind, round) {
  const db = /** @type {Seeded & Startable} */ (throughputDbs[backend]);
  /** @type {RunningServer | undefined} */
  let target;
  try {
    await waitQuiet(`${backend} ${label}`);
    target = await startPlugboard(backend, db);
    const raw = await runLoad(
      target,
      {
        ...basePlan(`${backend}-${kind}-${round}`, kind),
        apiKey: db.apiKey,
        ...(db.deleteApiKey === undefined ? {} : { deleteApiKey: db.deleteApiKey }),
        ids: db.ids,
        // Each round deletes its own share of the pool.
        deleteIds:
          kind === 'delete' ? (db.deleteIds ?? []).filter((_, i) => i % options.rounds === round - 1) : [],
      },
      { root, runDir, pin, database: backend === 'postgres' ? TP_DATABASE : undefined },
    );
    const row = summarize(backend, label, raw);
    caseLine(log, row);
    return row;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`  ${backend} ${label}: FAILED: ${message}`);
    return { backend, case: label, error: message };
  } finally {
    const exit = await target?.stop();
    if (exit && exit.code !== 0 && exit.signal !== 'SIGTERM') {
      log(`  ${backend} ${label}: the server exited with ${JSON.stringify(exit)}; see ${runDir}`);
    }
  }
}

/**
 * Rounds: the ceiling, then every case on every backend; a case's ratio is to its own round's
 * ceiling, and its figure the median over the rounds (scripts/bench/targets.mjs).
 * @type {(CaseRow & { round: number })[]}
 */
const runs = [];
/** @type {CaseRow[]} */
const baselines = [];
if (wants('baseline') || wants('throughput')) {
  const rounds = wants('throughput') ? options.rounds : 1;
  for (let round = 1; round <= rounds; round++) {
    const ceiling = await measureBaseline(rounds > 1 ? `ceiling, round ${round} of ${rounds}` : 'ceiling');
    ceiling.ratioToCeiling = 1;
    baselines.push(ceiling);
    runs.push({ ...ceiling, case: 'ceiling', round });
    if (!wants('throughput')) continue;
    for (const backend of backends) {
      if (!throughputDbs[backend]) continue;
      const cases = backend === 'postgres' ? options.postgresCases : options.cases;
      log('');
      log(`── throughput: ${backend}, round ${round} of ${rounds} ──`);
      for (const [label, kind] of CASES.filter(([, kind]) => cases.includes(kind))) {
        const row = await measureCase(backend, label, kind, round);
        if (!row.error && ceiling.rps) {
          row.ratioToCeiling = (row.rps ?? 0) / ceiling.rps;
          row.ratioToCeilingByCpu =
            row.cpuMicrosPerRequest && ceiling.cpuMicrosPerRequest
              ? ceiling.cpuMicrosPerRequest / row.cpuMicrosPerRequest
              : null;
        }
        runs.push({ ...row, round });
      }
    }
  }
}
const medians = medianRows(runs);
const results = medians.filter((r) => r.backend !== 'node:http');
/** @type {CaseRow | undefined} */
const baseline = medians.find((r) => r.backend === 'node:http');

// ---------------------------------------------------------------------------------------------
// Paging targets

/** @type {(PagingResult | { backend: string; rows: number; error: string })[]} */
const paging = [];
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
        startFloor: startBaseline,
        waitQuiet,
        hwm: (pid) => server.procStatus(pid).hwmKiB,
        cpuOf: (pid) => server.cpuSeconds(pid) ?? 0,
        cpuWatch: (pid) => cpuWatch(pid, backend === 'postgres' ? PAGING_DATABASE : undefined),
        settings: {
          startupRuns: options.startupRuns,
          pageSamples: options.pageSamples,
          walkBudgetMs: options.walkBudget * 1000,
          deepBudgetMs: options.deepBudget * 1000,
        },
        log,
      });
      measured.seeding = { cached: db.cached, seconds: db.seconds };
      paging.push(measured);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      paging.push({ backend, rows: options.pagingRows, error: message });
      log(`  ${backend}: FAILED: ${message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

log('');
log('── results ──');
const rowsForTable = [...(baseline ? [baseline] : []), ...results];
if (rowsForTable.length > 0) log(resultsTable(rowsForTable, options.rounds));
const targets = [
  ...(wants('throughput') ? throughputTargets(medians, backends) : []),
  ...pagingTargets(paging),
];
printTargets(log, targets, options.pagingRows);
const disturbed = rowsForTable.filter((r) => r.disturbed);
if (disturbed.length > 0) {
  log('');
  log(
    `WARNING: ${disturbed.length} of ${rowsForTable.length} cases ran while other processes used ≥ ${QUIET_PERCENT} % of a core (see "other CPU %"): their numbers are lower and noisier than this machine can do${options.waitQuiet > 0 ? '' : '; --wait-quiet S waits for a quiet machine before each case'}`,
  );
}
for (const s of skipped) log(`SKIPPED ${s.backend}: ${s.reason.split('\n')[0]}`);

source.distDigestAtEnd = distDigest(root);
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
    cpu: machine.cpuModel,
    cores: machine.cores,
    otherCpuPercentBeforeRun: quietBefore,
    memoryMiB: machine.memoryMiB,
  },
  source,
  pinning: {
    used: pin,
    tasksetFound: machine.tasksetFound,
    serverCore: pin ? SERVER_CORE : null,
    clientCore: pin ? CLIENT_CORE : null,
    description: machine.pinning,
  },
  settings: {
    durationSeconds: options.duration,
    warmupSeconds: options.warmup,
    rounds: options.rounds,
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
  throughputRuns: runs,
  paging,
  targets,
  serversStarted: serverCount,
  totalSeconds,
};
const outPath = resolve(root, options.out);
writeFileSync(outPath, `${JSON.stringify(document, null, 2)}\n`);
const markdownPath = resolve(root, options.markdown);
writeFileSync(
  markdownPath,
  markdownReport({
    date: document.date,
    commit: source.commit,
    rows: rowsForTable,
    targets,
    rounds: options.rounds,
  }),
);
log('');
log(JSON.stringify(document));
log('');
log(`bench: done in ${(totalSeconds / 60).toFixed(1)} min; results in ${outPath} and ${markdownPath}`);

// Clean up: the scratch directory (server logs kept when something failed) and the throughput database.
const failed = results.some((r) => r.error) || paging.some((p) => 'error' in p);
if (throughputDbs.postgres)
  await seed.dropPostgresDatabase(options.postgresAdminUrl, TP_DATABASE).catch(() => {});
if (failed) log(`bench: server logs kept in ${runDir}`);
else rmSync(runDir, { recursive: true, force: true });

const unclean = runs.some(
  (r) => r.error || (r.non2xx ?? 0) > 0 || (r.errors ?? 0) > 0 || (r.timeouts ?? 0) > 0,
);
if (options.strict && (unclean || targets.some((t) => !t.pass))) process.exit(1);
