#!/usr/bin/env node
/**
 * `npm run fuzz [-- <cases>]`: the hostile-input property test (test/http/hostile-input.test.ts) with
 * 100,000 cases (or <cases>, or FUZZ_RUNS), counting failures instead of stopping at the first,
 * then the tally: cases, statuses by class, status and error code, failures with examples.
 * The cases are shared between FUZZ_WORKERS vitest processes (default: one per CPU), process i with
 * seed FUZZ_SEED + i (FUZZ_SEED default: random). Exits non-zero on any failure.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What one vitest process counted (test/http/hostile-input.test.ts writes it to FUZZ_REPORT).
 * @typedef {object} Tally
 * @property {number} cases
 * @property {Record<string, number>} byClass
 * @property {Record<string, number>} byStatus
 * @property {Record<string, number>} byCode
 * @property {number} failures
 * @property {{ problems: string[]; request: string }[]} examples
 * @property {number} seconds
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const runs = process.argv[2] ?? process.env.FUZZ_RUNS ?? '100000';
if (!/^[1-9]\d*$/.test(runs)) {
  process.stderr.write(`fuzz: the number of cases must be a positive integer, not ${JSON.stringify(runs)}\n`);
  process.exit(2);
}
const workers = Math.max(
  1,
  Math.min(Number(process.env.FUZZ_WORKERS ?? availableParallelism()), Number(runs)),
);
const baseSeed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const dir = mkdtempSync(join(tmpdir(), 'plugboard-fuzz-'));
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');

/**
 * One vitest process on its share of the cases, with its own seed and tally file.
 * @param {number} index
 * @returns {Promise<{ code: number; tally: Tally | undefined; seed: number }>}
 */
function worker(index) {
  const share = Math.floor(Number(runs) / workers) + (index < Number(runs) % workers ? 1 : 0);
  const report = join(dir, `tally-${index}.json`);
  const seed = baseSeed + index;
  const child = spawn(
    process.execPath,
    [vitest, 'run', '--project', 'sqlite', 'test/http/hostile-input.test.ts', '--reporter=default'],
    {
      cwd: root,
      stdio: index === 0 ? 'inherit' : ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        FUZZ_RUNS: String(share),
        FUZZ_SEED: String(seed),
        FUZZ_KEEP_GOING: '1',
        FUZZ_REPORT: report,
      },
    },
  );
  return new Promise((resolve) =>
    child.once('close', (exitCode) => {
      /** @type {Tally | undefined} */
      const tally = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : undefined;
      resolve({ code: exitCode ?? 1, tally, seed });
    }),
  );
}

process.stdout.write(
  `fuzz: ${runs} cases of test/http/hostile-input.test.ts in ${workers} processes, seeds ${baseSeed}…\n`,
);
const started = Date.now();
const results = await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
const seconds = Math.round((Date.now() - started) / 1000);
rmSync(dir, { recursive: true, force: true });

const missing = results.filter((result) => result.tally === undefined);
if (missing.length > 0) {
  process.stderr.write(
    `fuzz: ${missing.length} process(es) wrote no tally (seeds ${missing.map((m) => m.seed).join(', ')})\n`,
  );
}
/** @param {Record<string, number>} into @param {Record<string, number>} from */
const add = (into, from) => {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
};
/** @type {Tally} */
const tally = { cases: 0, byClass: {}, byStatus: {}, byCode: {}, failures: 0, examples: [], seconds: 0 };
for (const { tally: part } of results) {
  if (!part) continue;
  tally.cases += part.cases;
  tally.failures += part.failures;
  tally.seconds = Math.max(tally.seconds, part.seconds);
  add(tally.byClass, part.byClass);
  add(tally.byStatus, part.byStatus);
  add(tally.byCode, part.byCode);
  tally.examples.push(...part.examples);
}
const code = Math.max(...results.map((result) => result.code));

/** @param {Record<string, number>} record */
const sorted = (record) =>
  Object.entries(record)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key}: ${n}`)
    .join(', ');
const lines = [
  '',
  '── fuzz tally ──',
  `cases:     ${tally.cases} in ${seconds} s (${workers} processes; seeds from ${baseSeed}, FUZZ_SEED replays)`,
  `by class:  ${sorted(tally.byClass)}`,
  `by status: ${sorted(tally.byStatus)}`,
  `by code:   ${sorted(tally.byCode)}`,
  `failures:  ${tally.failures}`,
];
for (const [i, example] of tally.examples.entries()) {
  lines.push(`  #${i + 1}: ${example.problems.join('; ')}`);
  for (const line of example.request.split('\n')) lines.push(`      ${line}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(tally.failures > 0 || missing.length > 0 ? 1 : code);
