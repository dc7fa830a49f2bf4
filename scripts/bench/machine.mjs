/**
 * The machine the bench runs on and the code it measures: the CPU, the pinning (the server on
 * core 0, the load generator and the bench on core 1), how busy other processes keep it, and a
 * digest of dist/ with the commit it was built from.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as server from './server.mjs';

/** @import { CpuSplit } from './paging.mjs' */

export const SERVER_CORE = 0;
export const CLIENT_CORE = 1;
/** Other processes using this much of a core or more disturb a measurement. */
export const QUIET_PERCENT = 10;

/**
 * @typedef {object} Machine
 * @property {string} cpuModel
 * @property {number} cores
 * @property {boolean} tasksetFound
 * @property {boolean} pin whether the server and the load generator get a core each
 * @property {string} pinning what the run does, in words
 * @property {number} memoryMiB
 */

/** @returns {Machine} */
export function describeMachine() {
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
  const memoryMiB = Math.round(
    Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 1024,
  );
  return { cpuModel, cores, tasksetFound, pin, pinning, memoryMiB };
}

/** CPU used by other processes over one second now, in % of one core: others at work disturb the numbers. */
export async function otherLoadNow() {
  const before = server.cpuSnapshot();
  const coresBefore = server.coreTimes();
  await new Promise((done) => setTimeout(done, 1000));
  const split = server.cpuBetween(before, server.cpuSnapshot(), { serverPid: -1, loadPid: -1 });
  return Math.max(0, server.processSecondsBetween(coresBefore, server.coreTimes()) - split.bench) * 100;
}

/**
 * With `seconds` > 0 (--wait-quiet): a wait (up to that long) until other processes use under
 * QUIET_PERCENT of a core; resolves with the seconds waited.
 * @param {number} seconds
 * @param {(line: string) => void} log
 * @returns {(what: string) => Promise<number>}
 */
export function quietWaiter(seconds, log) {
  return async (what) => {
    if (seconds <= 0) return 0;
    const started = performance.now();
    let load = await otherLoadNow();
    while (load >= QUIET_PERCENT && performance.now() - started < seconds * 1000) {
      load = await otherLoadNow();
    }
    const waited = (performance.now() - started) / 1000;
    if (waited > 1.5) {
      log(
        `  (waited ${waited.toFixed(0)} s for a quiet machine before ${what}; other processes now at ${load.toFixed(0)} %)`,
      );
    }
    return waited;
  };
}

/**
 * Where the CPU goes from now until the returned function is called, in % of one core: the server
 * `pid` (plus `serversGone`, the CPU seconds of servers that ran in between and exited), PostgreSQL
 * serving `database`, this process, and other processes.
 * @param {number} pid
 * @param {string | undefined} database
 * @returns {(serversGone?: number) => CpuSplit}
 */
export function cpuWatch(pid, database) {
  const before = server.cpuSnapshot();
  const coresBefore = server.coreTimes();
  const started = performance.now();
  return (serversGone = 0) => {
    const seconds = (performance.now() - started) / 1000;
    const split = server.cpuBetween(before, server.cpuSnapshot(), { serverPid: pid, loadPid: -1, database });
    split.server += serversGone;
    const processes = server.processSecondsBetween(coresBefore, server.coreTimes());
    split.other = Math.max(0, processes - split.server - split.bench - split.database);
    /** @param {number} value */
    const percent = (value) => (value / seconds) * 100;
    return {
      serverCpuPercent: percent(split.server),
      databaseCpuPercent: database ? percent(split.database) : null,
      benchCpuPercent: percent(split.bench),
      otherCpuPercent: percent(split.other),
    };
  };
}

/**
 * What was measured: a digest of the compiled code (others may rebuild dist/ while the bench runs).
 * @param {string} root
 */
export function distDigest(root) {
  const hash = createHash('sha256');
  /** @param {string} dir */
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

/**
 * The code under test: the commit, how many files of src/ differ from it, and the digest of dist/.
 * @param {string} root
 * @returns {{ commit: string; uncommittedSrcFiles: number; distDigestAtStart: string; distDigestAtEnd?: string }}
 */
export function sourceOf(root) {
  /** @param {string[]} args */
  const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    uncommittedSrcFiles: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length,
    distDigestAtStart: distDigest(root),
  };
}
