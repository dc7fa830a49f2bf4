/**
 * The paging targets of `npm run bench`, on a database with `rows` connectors in one account,
 * measured one request at a time from this process (pinned to the other core than the server)
 * over one keep-alive connection:
 *
 * - startup: spawn of `plugboard serve` to the first 200 from /healthz (polled every 5 ms),
 *   alternating with a bare node:http server's spawn to its first answer, medians; target ≤ 3×;
 * - deep page: GET ?start-index=900000&max-results=100 (90 % of the rows when there are fewer
 *   than 1,000,000) on a fresh server, the first (cold) answer and the median; target < 20 ms
 *   (SQLite) / < 50 ms (PostgreSQL); also pages at random start indexes past that point;
 * - walk: on a fresh server, the first page (start-index 0, max-results 100) median after as many
 *   unrecorded requests of it to warm up, then every page of 100 in order to the end; target: mean per page ≤ 2 × the first page. The walk also
 *   checks that it saw every connector exactly once.
 *
 * The walk stops at a time budget of max(--walk-budget, 2.1 × pages × first page): a walk that
 * meets the target always fits, so a walk stopped by the budget has failed it (its mean per page
 * is at least budget / pages > 2 × the first page) and is reported as such.
 */
import http from 'node:http';

/** @import { RunningServer } from './server.mjs' */

/**
 * Where the CPU went while something was measured, in % of one core.
 * @typedef {{ serverCpuPercent: number; databaseCpuPercent: number | null; benchCpuPercent: number; otherCpuPercent: number }} CpuSplit
 */
/**
 * A verdict on one target.
 * @typedef {{ name: string; value: number; limit: number; pass: boolean; disturbed: boolean; detail: string }} Target
 */
/**
 * @typedef {object} Walk
 * @property {number} pages
 * @property {number} walked
 * @property {boolean} complete
 * @property {number} budgetSeconds
 * @property {number} totalSeconds
 * @property {number} items
 * @property {number} unique
 * @property {number} duplicates
 * @property {number} meanMs
 * @property {number} medianMs
 * @property {number} p99Ms
 * @property {number | null} maxMs
 * @property {number} ratioMeanToFirst
 * @property {number} ratioMedianToFirst
 * @property {number} lowerBoundMeanMs a stopped walk's mean per page over all pages is at least this
 * @property {number[]} decileMeansMs
 * @property {number} serverPeakRssMiB
 * @property {CpuSplit} cpu
 */
/**
 * What the paging measurements found on one backend.
 * @typedef {object} PagingResult
 * @property {string} backend
 * @property {number} rows
 * @property {{ samplesMs: number[]; medianMs: number; floorSamplesMs: number[]; floorMedianMs: number; cpu: CpuSplit }} startup
 * @property {{ cpu: CpuSplit; startIndex: number; coldMs: number; samples: number; medianMs: number; p90Ms: number; maxMs: number; random: { from: number; to: number; samples: number; medianMs: number; p90Ms: number } }} deepPage
 * @property {{ samples: number; medianMs: number; p90Ms: number }} firstPage
 * @property {Walk} walk
 * @property {Target[]} targets
 * @property {{ cached: boolean; seconds: number }} [seeding] set by the caller
 */
/**
 * @typedef {object} PagingSettings
 * @property {number} startupRuns
 * @property {number} pageSamples
 * @property {number} walkBudgetMs
 * @property {number} deepBudgetMs
 */

export const TARGETS = {
  walkRatio: 2,
  deepPageMs: { sqlite: 20, postgres: 50 },
  /** Start-up to a ready /healthz at most this many times a bare node:http server's (medians, same run). */
  startupRatio: 3,
};

// Of no values, each is NaN, which the JSON document writes as null.

/** @param {readonly number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/** @param {readonly number[]} values @param {number} q */
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** @param {readonly number[]} values */
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

/** @typedef {{ status: number; ms: number; body: string }} Answer */
/** @typedef {{ get(path: string): Promise<Answer>; close(): void }} Client */

/**
 * A keep-alive client on one connection; each call resolves with status, milliseconds and body.
 * @param {string} base
 * @param {string} apiKey
 * @returns {Client}
 */
function makeClient(base, apiKey) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { authorization: `Bearer ${apiKey}` };
  return {
    get(path) {
      return new Promise((resolve, reject) => {
        const started = performance.now();
        const request = http.get(`${base}${path}`, { agent, headers, timeout: 60_000 }, (response) => {
          /** @type {Buffer[]} */
          const chunks = [];
          response.on('data', (chunk) => chunks.push(chunk));
          response.on('end', () => {
            const ms = performance.now() - started;
            resolve({ status: response.statusCode ?? 0, ms, body: Buffer.concat(chunks).toString('utf8') });
          });
          response.on('error', reject);
        });
        request.on('timeout', () => request.destroy(new Error('no answer within 60 s')));
        request.on('error', reject);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** @param {number} start */
const pagePath = (start, size = 100) => `/api/connectors?start-index=${start}&max-results=${size}`;

/**
 * @param {Client} client
 * @param {number} start
 * @param {number} [expectedLength]
 * @returns {Promise<{ ms: number; page: { id: string }[] }>}
 */
async function expectPage(client, start, expectedLength) {
  const answer = await client.get(pagePath(start));
  if (answer.status !== 200) {
    throw new Error(`GET ${pagePath(start)} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
  const page = JSON.parse(answer.body);
  if (expectedLength !== undefined && page.length !== expectedLength) {
    throw new Error(`GET ${pagePath(start)} returned ${page.length} connectors, expected ${expectedLength}`);
  }
  return { ms: answer.ms, page };
}

/**
 * `count` sequential requests of `start()`'s page, within `budgetMs` (at least 5).
 * @param {Client} client
 * @param {number} count
 * @param {number} budgetMs
 * @param {(i: number) => number} makeStart
 * @param {(start: number) => number} expectedLength
 */
async function sampleRequests(client, count, budgetMs, makeStart, expectedLength) {
  /** @type {number[]} */
  const samples = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    if (i >= 5 && performance.now() - started > budgetMs) break;
    const start = makeStart(i);
    samples.push((await expectPage(client, start, expectedLength(start))).ms);
  }
  return samples;
}

/**
 * Runs the three measurements. `start()` starts a fresh pinned server on the paging database and
 * resolves with its handle ({ base, pid, startupMs, stop() }); `hwm(pid)` reads its VmHWM in KiB.
 * @param {object} how
 * @param {string} how.backend
 * @param {number} how.rows
 * @param {string} how.apiKey
 * @param {() => Promise<RunningServer>} how.start
 * @param {() => Promise<RunningServer>} how.startFloor a bare node:http server, started alternately with ours
 * @param {(pid: number) => number | undefined} how.hwm
 * @param {(pid: number) => (serversGone?: number) => CpuSplit} how.cpuWatch from now until its result is called
 * @param {(pid: number) => number} how.cpuOf CPU seconds of a process
 * @param {(what: string) => Promise<unknown>} how.waitQuiet
 * @param {PagingSettings} how.settings
 * @param {(line: string) => void} how.log
 * @returns {Promise<PagingResult>}
 */
export async function measurePaging({
  backend,
  rows,
  apiKey,
  start,
  startFloor,
  hwm,
  cpuWatch,
  cpuOf,
  waitQuiet,
  settings,
  log,
}) {
  const pages = Math.ceil(rows / 100);
  /** @param {number} start */
  const lengthAt = (start) => Math.max(0, Math.min(100, rows - start));

  // Startup, alternating with a bare node:http server's (the floor), so that both see the same machine.
  /** @type {number[]} */
  const startups = [];
  /** @type {number[]} */
  const floors = [];
  await waitQuiet(`the ${backend} startups`);
  const startupCpu = cpuWatch(-1);
  let startupServers = 0;
  for (let i = 0; i < settings.startupRuns; i++) {
    const floor = await startFloor();
    floors.push(floor.startupMs);
    startupServers += cpuOf(floor.pid);
    await floor.stop();
    const server = await start();
    startups.push(server.startupMs);
    startupServers += cpuOf(server.pid);
    await server.stop();
  }
  const startup = {
    samplesMs: startups,
    medianMs: median(startups),
    floorSamplesMs: floors,
    floorMedianMs: median(floors),
    cpu: startupCpu(startupServers),
  };
  log(
    `  startup to a ready /healthz: ${startups.map((ms) => ms.toFixed(0)).join(', ')} ms; a bare node:http server: ${floors.map((ms) => ms.toFixed(0)).join(', ')} ms (other processes: ${startup.cpu.otherCpuPercent.toFixed(0)} % of a core)`,
  );

  // Deep pages, on a fresh server (no walk before it).
  const deepIndex = rows >= 1_000_000 ? 900_000 : Math.floor(rows * 0.9);
  /** @type {PagingResult['deepPage'] | undefined} */
  let deepPage;
  {
    await waitQuiet(`the ${backend} deep pages`);
    const server = await start();
    const client = makeClient(server.base, apiKey);
    const deepCpu = cpuWatch(server.pid);
    try {
      const cold = await expectPage(client, deepIndex, lengthAt(deepIndex));
      const samples = await sampleRequests(
        client,
        settings.pageSamples,
        settings.deepBudgetMs,
        () => deepIndex,
        lengthAt,
      );
      const span = Math.max(1, rows - 100 - deepIndex);
      const randomSamples = await sampleRequests(
        client,
        settings.pageSamples,
        settings.deepBudgetMs,
        () => deepIndex + Math.floor(Math.random() * span),
        lengthAt,
      );
      deepPage = {
        cpu: deepCpu(),
        startIndex: deepIndex,
        coldMs: cold.ms,
        samples: samples.length,
        medianMs: median(samples),
        p90Ms: quantile(samples, 0.9),
        maxMs: Math.max(...samples),
        random: {
          from: deepIndex,
          to: deepIndex + span,
          samples: randomSamples.length,
          medianMs: median(randomSamples),
          p90Ms: quantile(randomSamples, 0.9),
        },
      };
      log(
        `  deep page start-index ${deepIndex}: cold ${cold.ms.toFixed(1)} ms, median ${median(samples).toFixed(1)} ms over ${samples.length}; random start-index ${deepIndex}…${deepIndex + span}: median ${median(randomSamples).toFixed(1)} ms over ${randomSamples.length} (other processes: ${deepPage.cpu.otherCpuPercent.toFixed(0)} % of a core)`,
      );
    } finally {
      client.close();
      await server.stop();
    }
  }

  // The first page, then the walk, on a fresh server.
  /** @type {PagingResult['firstPage'] | undefined} */
  let firstPage;
  /** @type {Walk | undefined} */
  let walk;
  {
    await waitQuiet(`the ${backend} walk`);
    const server = await start();
    const client = makeClient(server.base, apiKey);
    try {
      // Warm the server (JIT, connection) on the first page only: nothing past it is read before the walk.
      await sampleRequests(client, Math.max(10, settings.pageSamples), 30_000, () => 0, lengthAt);
      const first = await sampleRequests(client, settings.pageSamples, 60_000, () => 0, lengthAt);
      const firstMs = median(first);
      firstPage = { samples: first.length, medianMs: firstMs, p90Ms: quantile(first, 0.9) };
      const budgetMs = Math.max(settings.walkBudgetMs, 2.1 * pages * firstMs);
      log(
        `  first page: median ${firstMs.toFixed(2)} ms over ${first.length}; walking ${pages} pages of 100 (budget ${(budgetMs / 1000).toFixed(0)} s)`,
      );
      const perPage = new Float64Array(pages);
      const seen = new Set();
      let duplicates = 0;
      let walked = 0;
      let items = 0;
      let stoppedAtBudget = false;
      const cpuDone = cpuWatch(server.pid);
      const started = performance.now();
      let lastReport = started;
      for (let offset = 0; ; offset += 100) {
        if (performance.now() - started > budgetMs) {
          stoppedAtBudget = true;
          break;
        }
        const { ms, page } = await expectPage(client, offset, lengthAt(offset));
        if (page.length === 0) break;
        perPage[walked++] = ms;
        items += page.length;
        for (const connector of page) {
          if (seen.has(connector.id)) duplicates++;
          else seen.add(connector.id);
        }
        if (page.length < 100) break;
        if (performance.now() - lastReport > 15_000) {
          lastReport = performance.now();
          log(`    … ${walked} pages, ${((lastReport - started) / 1000).toFixed(0)} s`);
        }
      }
      const totalMs = performance.now() - started;
      const cpu = cpuDone();
      const done = Array.from(perPage.subarray(0, walked));
      /** @type {number[]} */
      const deciles = [];
      for (let d = 0; d < 10; d++) {
        const slice = done.slice(Math.floor((d * walked) / 10), Math.floor(((d + 1) * walked) / 10));
        deciles.push(mean(slice));
      }
      const meanMs = mean(done);
      walk = {
        pages,
        walked,
        complete: !stoppedAtBudget,
        budgetSeconds: budgetMs / 1000,
        totalSeconds: totalMs / 1000,
        items,
        unique: seen.size,
        duplicates,
        meanMs,
        medianMs: median(done),
        p99Ms: quantile(done, 0.99),
        maxMs: done.length > 0 ? Math.max(...done) : null,
        ratioMeanToFirst: meanMs / firstMs,
        ratioMedianToFirst: median(done) / firstMs,
        /** A stopped walk's mean per page over all pages is at least this. */
        lowerBoundMeanMs: stoppedAtBudget ? totalMs / pages : meanMs,
        decileMeansMs: deciles,
        serverPeakRssMiB: (hwm(server.pid) ?? 0) / 1024,
        cpu,
      };
      log(
        `  walk: ${walked}/${pages} pages in ${(totalMs / 1000).toFixed(1)} s, mean ${meanMs.toFixed(2)} ms, median ${median(done).toFixed(2)} ms per page; ${items} connectors, ${seen.size} distinct${stoppedAtBudget ? ' (stopped at the budget)' : ''}`,
      );
      log(
        `  walk CPU (% of a core): server ${cpu.serverCpuPercent.toFixed(0)}${cpu.databaseCpuPercent == null ? '' : `, PostgreSQL ${cpu.databaseCpuPercent.toFixed(0)}`}, client ${cpu.benchCpuPercent.toFixed(0)}, other processes ${cpu.otherCpuPercent.toFixed(0)}; server peak RSS ${walk.serverPeakRssMiB.toFixed(0)} MiB`,
      );
      log(
        `  walk per-page mean by tenth of the walk (ms): ${deciles.map((v) => (Number.isNaN(v) ? 0 : v).toFixed(1)).join(', ')}`,
      );
    } finally {
      client.close();
      await server.stop();
    }
  }

  // The verdicts.
  if (!deepPage || !firstPage || !walk) throw new Error('a paging measurement did not finish');
  const walkCorrect =
    !walk.complete || (walk.items === rows && walk.unique === rows && walk.duplicates === 0);
  const deepLimit = backend === 'postgres' ? TARGETS.deepPageMs.postgres : TARGETS.deepPageMs.sqlite;
  /** @param {CpuSplit} cpu */
  const disturbed = (cpu) => cpu.otherCpuPercent >= 10;
  /** @type {Target[]} */
  const targets = [
    {
      name: 'walk all pages of 100: mean per page ≤ 2 × first page',
      value: walk.complete ? walk.ratioMeanToFirst : walk.lowerBoundMeanMs / firstPage.medianMs,
      limit: TARGETS.walkRatio,
      pass: walk.complete && walkCorrect && walk.ratioMeanToFirst <= TARGETS.walkRatio,
      disturbed: disturbed(walk.cpu),
      detail: walk.complete
        ? `${walk.meanMs.toFixed(2)} ms per page / ${firstPage.medianMs.toFixed(2)} ms first page = ${walk.ratioMeanToFirst.toFixed(2)}x${walkCorrect ? '' : `; WRONG CONTENT: ${walk.items} items, ${walk.unique} distinct, expected ${rows}`}`
        : `stopped after ${walk.walked}/${walk.pages} pages at the ${walk.budgetSeconds.toFixed(0)} s budget: mean per page ≥ ${walk.lowerBoundMeanMs.toFixed(2)} ms = ≥ ${(walk.lowerBoundMeanMs / firstPage.medianMs).toFixed(1)}x the first page (${firstPage.medianMs.toFixed(2)} ms)`,
    },
    {
      name: `deep page (start-index ${deepPage.startIndex}) median < ${deepLimit} ms`,
      value: deepPage.medianMs,
      limit: deepLimit,
      pass: deepPage.medianMs < deepLimit,
      disturbed: disturbed(deepPage.cpu),
      detail: `median ${deepPage.medianMs.toFixed(2)} ms over ${deepPage.samples} (cold ${deepPage.coldMs.toFixed(1)} ms, p90 ${deepPage.p90Ms.toFixed(2)} ms)`,
    },
    {
      name: `startup to a ready /healthz ≤ ${TARGETS.startupRatio} × a bare node:http start (medians)`,
      value: startup.medianMs / startup.floorMedianMs,
      limit: TARGETS.startupRatio,
      pass: startup.medianMs / startup.floorMedianMs <= TARGETS.startupRatio,
      disturbed: disturbed(startup.cpu),
      detail: `${startup.medianMs.toFixed(0)} ms / ${startup.floorMedianMs.toFixed(0)} ms = ${(startup.medianMs / startup.floorMedianMs).toFixed(2)}x, medians of ${startups.length} alternating starts (${startups.map((ms) => ms.toFixed(0)).join(', ')} / ${floors.map((ms) => ms.toFixed(0)).join(', ')})`,
    },
  ];
  return { backend, rows, startup, deepPage, firstPage, walk, targets };
}
