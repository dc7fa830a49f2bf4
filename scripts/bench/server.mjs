/**
 * Processes of the benchmark: the compiled server (or the bare baseline) pinned to one core with
 * taskset, its readiness (first 200 from a URL, polled every 5 ms), its memory (VmRSS sampled every
 * 100 ms, VmHWM) and CPU time (/proc/<pid>/stat), and the load generator child.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

/**
 * @import { ChildProcessByStdio } from 'node:child_process'
 * @import { Readable } from 'node:stream'
 */

/** @typedef {{ code: number | null; signal: NodeJS.Signals | null }} ExitStatus */
/**
 * A node child with its output piped, and a promise of its end.
 * @typedef {ChildProcessByStdio<null, Readable, Readable> & { exited: Promise<ExitStatus>; exitStatus?: ExitStatus }} NodeChild
 */
/**
 * A server that answers: where, since when, and how to stop it.
 * @typedef {object} RunningServer
 * @property {number} pid
 * @property {number} port
 * @property {string} base `http://127.0.0.1:<port>`
 * @property {number} startupMs from the spawn to its first 200
 * @property {NodeChild} child
 * @property {() => Promise<ExitStatus>} stop SIGTERM, then SIGKILL after 15 s
 */
/** CPU seconds and command line of every process, by pid. @typedef {Map<number, { cpu: number; cmd: string }>} CpuSnapshot */
/** Per core, in ticks. @typedef {{ busy: number; total: number; processes: number }[]} CoreTimes */

/** Every child still running, so that an interrupted run leaves none behind. */
/** @type {Set<NodeChild>} */
export const children = new Set();

export function hasTaskset() {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

/**
 * Pins this process (every thread) to `core`.
 * @param {number} core
 */
export function pinSelf(core) {
  return spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)]).status === 0;
}

/** @returns {Promise<number>} */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `node args…`, pinned to `core` when `pin` (taskset execs node: the pid is node's); stdout and
 * stderr piped.
 * @param {readonly string[]} args
 * @param {{ core: number; pin: boolean; env: NodeJS.ProcessEnv; cwd: string }} how
 * @returns {NodeChild}
 */
export function spawnNode(args, { core, pin, env, cwd }) {
  /** @type {['ignore', 'pipe', 'pipe']} */
  const stdio = ['ignore', 'pipe', 'pipe'];
  const spawned = pin
    ? spawn('taskset', ['-c', String(core), process.execPath, ...args], { env, cwd, stdio })
    : spawn(process.execPath, args, { env, cwd, stdio });
  /** @type {NodeChild} */
  const child = Object.assign(spawned, {
    exited: new Promise((resolve) =>
      spawned.once('close', (code, signal) => {
        children.delete(child);
        child.exitStatus = { code, signal };
        resolve(child.exitStatus);
      }),
    ),
  });
  children.add(child);
  return child;
}

/**
 * @param {string} url
 * @returns {Promise<number>} the status, 0 when nothing answered
 */
function statusOnce(url, timeoutMs = 1_000) {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

/**
 * Resolves with the milliseconds since `started` at the first 200 from `url`.
 * @param {NodeChild} child
 * @param {string} url
 * @param {number} started
 * @param {number} timeoutMs
 * @param {string} describe
 */
async function waitReady(child, url, started, timeoutMs, describe) {
  for (;;) {
    if (child.exitStatus)
      throw new Error(`${describe} exited at start (${JSON.stringify(child.exitStatus)})`);
    if (performance.now() - started > timeoutMs)
      throw new Error(`${describe} was not ready within ${timeoutMs} ms`);
    if ((await statusOnce(url)) === 200) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * @param {number} pid
 * @returns {{ rssKiB?: number | undefined; hwmKiB?: number | undefined }}
 */
export function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    /** @param {string} name */
    const kib = (name) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
      return match ? Number(match[1]) : undefined;
    };
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return {};
  }
}

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU seconds (user + system, every thread) the process has used.
 * @param {number | string} pid
 */
export function cpuSeconds(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name and state.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Samples VmRSS every `everyMs` until stopped; returns the highest sample in KiB.
 * @param {number} pid
 * @returns {() => number} stops sampling
 */
export function sampleRss(pid, everyMs = 100) {
  let max = procStatus(pid).rssKiB ?? 0;
  const timer = setInterval(() => {
    const { rssKiB } = procStatus(pid);
    if (rssKiB !== undefined && rssKiB > max) max = rssKiB;
  }, everyMs);
  return () => {
    clearInterval(timer);
    const { rssKiB } = procStatus(pid);
    return Math.max(max, rssKiB ?? 0);
  };
}

/**
 * Starts `node args…` (a server) pinned to `core`, logging to `logPath`, and waits for a 200 from
 * `readyPath`. `startupMs`: from the spawn to that first 200.
 * @param {object} how
 * @param {string[]} how.args
 * @param {NodeJS.ProcessEnv} how.env
 * @param {string} how.cwd
 * @param {number} how.core
 * @param {boolean} how.pin
 * @param {string} how.logPath
 * @param {string} how.readyPath
 * @param {string} how.describe for messages: `the sqlite server`
 * @param {number} [how.timeoutMs]
 * @returns {Promise<RunningServer>}
 */
export async function startServer({
  args,
  env,
  cwd,
  core,
  pin,
  logPath,
  readyPath,
  describe,
  timeoutMs = 60_000,
}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = createWriteStream(logPath, { flags: 'a' });
  const started = performance.now();
  const child = spawnNode(args, { core, pin, env: { ...env, PORT: String(port) }, cwd });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let startupMs;
  try {
    startupMs = await waitReady(child, `${base}${readyPath}`, started, timeoutMs, describe);
  } catch (error) {
    child.kill('SIGKILL');
    await child.exited;
    throw new Error(`${error instanceof Error ? error.message : String(error)}; see ${logPath}`);
  }
  return {
    pid: child.pid ?? -1,
    port,
    base,
    startupMs,
    child,
    async stop() {
      if (child.exitStatus) return child.exitStatus;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const status = await child.exited;
      clearTimeout(timer);
      return status;
    },
  };
}

/** Kills every child this run started (by its own pid), e.g. on Ctrl-C. */
export function killChildren() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * CPU seconds and command line of every process now.
 * @returns {CpuSnapshot}
 */
export function cpuSnapshot() {
  /** @type {CpuSnapshot} */
  const snapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cpu = cpuSeconds(entry);
    if (cpu === undefined) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      // gone
    }
    snapshot.set(Number(entry), { cpu, cmd });
  }
  return snapshot;
}

const POSTGRES_AUXILIARY =
  /^postgres: .*(checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|archiver|stats collector)/;

/**
 * Where the CPU went between two snapshots, in CPU seconds: the server, the load generator,
 * PostgreSQL serving `database` (its backends and shared auxiliary processes) and everything else
 * (other users of the machine, kernel threads; processes that ended in between are not seen).
 * @param {CpuSnapshot} before
 * @param {CpuSnapshot} after
 * @param {{ serverPid: number; loadPid: number; database?: string | undefined }} whose
 */
export function cpuBetween(before, after, { serverPid, loadPid, database }) {
  const split = { server: 0, load: 0, bench: 0, database: 0, other: 0 };
  for (const [pid, { cpu, cmd }] of after) {
    const used = cpu - (before.get(pid)?.cpu ?? 0);
    if (used <= 0) continue;
    if (pid === serverPid) split.server += used;
    else if (pid === loadPid) split.load += used;
    else if (pid === process.pid) split.bench += used;
    else if (
      database &&
      cmd.startsWith('postgres:') &&
      (`${cmd} `.includes(` ${database} `) || POSTGRES_AUXILIARY.test(cmd))
    )
      split.database += used;
    else split.other += used;
  }
  return split;
}

/**
 * Busy and total time of each core so far (/proc/stat, in ticks).
 * @returns {CoreTimes}
 */
export function coreTimes() {
  /** @type {CoreTimes} */
  const cores = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+)\s+(.+)$/.exec(line);
    if (!match) continue;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = (
      match[2] ?? ''
    )
      .split(/\s+/)
      .map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    cores[Number(match[1])] = { busy, total: busy + idle + iowait, processes: user + nice + system };
  }
  return cores;
}

/**
 * CPU seconds that processes (user and system time, not interrupts) used on all cores between two coreTimes().
 * @param {CoreTimes} before
 * @param {CoreTimes} after
 */
export function processSecondsBetween(before, after) {
  let ticks = 0;
  after.forEach((end, i) => {
    ticks += end.processes - (before[i]?.processes ?? 0);
  });
  return ticks / TICKS_PER_SECOND;
}

/**
 * How busy each core was between two coreTimes(), in %.
 * @param {CoreTimes} before
 * @param {CoreTimes} after
 * @returns {(number | null)[]}
 */
export function coreBusyBetween(before, after) {
  return after.map((end, i) => {
    const start = before[i];
    const total = end.total - (start?.total ?? 0);
    return total > 0 ? ((end.busy - (start?.busy ?? 0)) / total) * 100 : null;
  });
}
