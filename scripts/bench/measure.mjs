/**
 * One throughput case: the load generator (scripts/bench/load.mjs, in its own process on the
 * client core) against a running server, while this process samples the server's RSS and accounts
 * where the machine's CPU went; then the case as a row of the results.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLIENT_CORE, QUIET_PERCENT, SERVER_CORE } from './machine.mjs';
import * as server from './server.mjs';

/**
 * @import { LoadPlan, LoadResult } from './load.mjs'
 * @import { CoreTimes, CpuSnapshot, RunningServer } from './server.mjs'
 */

/**
 * A load result with where the CPU and memory went meanwhile.
 * @typedef {LoadResult & {
 *   coreBusyPercent: (number | null)[];
 *   serverCoreBusyPercent: number | null;
 *   clientCoreBusyPercent: number | null;
 *   cpuMicrosPerRequest: number | null;
 *   serverCpuPercent: number;
 *   loadCpuPercent: number;
 *   databaseCpuPercent: number | null;
 *   otherCpuPercent: number;
 *   peakRssMiB: number;
 *   sampledPeakRssMiB: number;
 * }} Measured
 */

/**
 * A row of the results: a case on a backend (or the ceiling), measured or failed.
 * @typedef {object} CaseRow
 * @property {string} backend
 * @property {string} case
 * @property {string} [error] why the case failed (then nothing else is set)
 * @property {boolean} [disturbed]
 * @property {string} [boundBy]
 * @property {number} [rps]
 * @property {number | null} [p50Ms]
 * @property {number | null} [p90Ms]
 * @property {number | null} [p99Ms]
 * @property {number | null} [meanMs]
 * @property {number | null} [maxMs]
 * @property {number} [responses]
 * @property {number} [seconds]
 * @property {Record<string, number>} [statuses]
 * @property {number} [non2xx]
 * @property {number} [errors]
 * @property {number} [timeouts]
 * @property {number} [peakRssMiB]
 * @property {number} [sampledPeakRssMiB]
 * @property {number} [serverCpuPercent]
 * @property {number} [loadCpuPercent]
 * @property {number | null} [databaseCpuPercent]
 * @property {number} [otherCpuPercent]
 * @property {number | null} [serverCoreBusyPercent]
 * @property {number | null} [clientCoreBusyPercent]
 * @property {number | null} [cpuMicrosPerRequest]
 * @property {number} [connections]
 * @property {Record<string, number>} [ops]
 * @property {{ status: number; body: string }[]} [nonOkSamples]
 * @property {number} [deletePool]
 * @property {boolean} [poolExhausted]
 * @property {number} [ratioToCeiling] req/s ÷ the ceiling's
 * @property {number | null} [ratioToCeilingByCpu] the ceiling's CPU per request ÷ this case's
 * @property {number} [bodyBytes] the ceiling's constant answer
 * @property {number} [ceilingRps]
 * @property {number} [ceilingCpuMicrosPerRequest]
 */

/**
 * Runs the load generator against `target` with `plan`; while it measures, samples the server's
 * RSS and accounts where the machine's CPU went (server, load generator, PostgreSQL, others).
 * @param {RunningServer} target
 * @param {Omit<LoadPlan, 'url' | 'output'>} plan
 * @param {{ root: string; runDir: string; pin: boolean; database?: string | undefined }} where
 * @returns {Promise<Measured>}
 */
export async function runLoad(target, plan, { root, runDir, pin, database }) {
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
  /** @type {(() => number) | undefined} */
  let stopSampling;
  /** @type {{ cpu: CpuSnapshot; cores: CoreTimes; at: number } | undefined} */
  let start;
  /** @type {{ cpu: CpuSnapshot; cores: CoreTimes; at: number } | undefined} */
  let end;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line === 'measure-start') {
      start = { at: performance.now(), cpu: server.cpuSnapshot(), cores: server.coreTimes() };
      stopSampling = server.sampleRss(target.pid, 100);
    } else if (line === 'done') {
      end = { at: performance.now(), cpu: server.cpuSnapshot(), cores: server.coreTimes() };
    }
  });
  const status = await child.exited;
  const sampledRssKiB = stopSampling?.();
  if (status.code !== 0 || !start || !end) {
    throw new Error(`the load generator failed (${JSON.stringify(status)}): ${stderr.slice(-2000)}`);
  }
  /** @type {LoadResult} */
  const result = JSON.parse(readFileSync(output, 'utf8'));
  const wall = (end.at - start.at) / 1000;
  const cpu = server.cpuBetween(start.cpu, end.cpu, {
    serverPid: target.pid,
    loadPid: child.pid ?? -1,
    database,
  });
  /** @param {number} seconds */
  const percent = (seconds) => (seconds / wall) * 100;
  const { hwmKiB } = server.procStatus(target.pid);
  const busy = server.coreBusyBetween(start.cores, end.cores);
  const serving = cpu.server + (database ? cpu.database : 0);
  return {
    ...result,
    coreBusyPercent: busy,
    serverCoreBusyPercent: pin ? (busy[SERVER_CORE] ?? null) : null,
    clientCoreBusyPercent: pin ? (busy[CLIENT_CORE] ?? null) : null,
    cpuMicrosPerRequest: result.responses > 0 ? (serving / result.responses) * 1e6 : null,
    serverCpuPercent: percent(cpu.server),
    loadCpuPercent: percent(cpu.load),
    databaseCpuPercent: database ? percent(cpu.database) : null,
    // Everything processes used on the machine but the bench's own: catches short-lived processes too.
    otherCpuPercent: percent(
      Math.max(
        0,
        server.processSecondsBetween(start.cores, end.cores) -
          cpu.server -
          cpu.load -
          cpu.bench -
          cpu.database,
      ),
    ),
    peakRssMiB: (hwmKiB ?? 0) / 1024,
    sampledPeakRssMiB: (sampledRssKiB ?? 0) / 1024,
  };
}

/**
 * Which core ran out: the server's, the load generator's, or neither (waiting on I/O or PostgreSQL).
 * @param {Measured} raw
 */
function boundBy(raw) {
  if (raw.serverCoreBusyPercent == null) return 'unknown (not pinned)';
  if (raw.serverCoreBusyPercent >= 90) return 'server core';
  if ((raw.clientCoreBusyPercent ?? 0) >= 90) return 'load generator';
  return 'neither core';
}

/**
 * @param {string} backend
 * @param {string} name
 * @param {Measured} raw
 * @returns {CaseRow}
 */
export function summarize(backend, name, raw) {
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
