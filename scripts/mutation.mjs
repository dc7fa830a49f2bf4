#!/usr/bin/env node
/**
 * `npm run mutation [-- <module>… ] [--concurrency <n>] [--full]`: mutation testing (Stryker with
 * its vitest runner) of the security-critical modules, one module at a time, each against only the
 * test files that exercise it (MODULES below), on the `sqlite` project. Without a module, all of
 * them in turn. Incremental: a re-run tests only the mutants whose code or tests changed since the
 * last run of that module (`--full` starts afresh). Reports go to reports/mutation/<module>/
 * (index.html, mutation.json) and a line per module to stdout. Not part of `npm test` or CI: a
 * module takes minutes, all of them most of an hour on two cores.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Each module and the test files that exercise it. A module's own unit tests first, then the HTTP
 * tests that drive it through the app. A test that kills a mutant belongs in one of these files, or
 * the file goes into this table.
 * @type {Record<string, string[]>}
 */
export const MODULES = {
  'src/http/auth.ts': ['src/http/auth.test.ts', 'test/http/auth.test.ts'],
  'src/auth/api-keys.ts': ['src/auth/api-keys.test.ts', 'test/http/auth.test.ts'],
  'src/connectors/validate.ts': ['src/connectors/validate.test.ts', 'src/connectors/fixtures.test.ts'],
  'src/http/idempotency.ts': ['src/http/idempotency.test.ts', 'test/http/idempotency.test.ts'],
  'src/http/conditional.ts': [
    'src/http/conditional.test.ts',
    'test/http/conditional.test.ts',
    'test/http/idempotency.test.ts',
  ],
  'src/http/paging.ts': ['test/http/paging.test.ts'],
  'src/connectors/secrets.ts': [
    'src/connectors/secrets.test.ts',
    'test/http/secrets.test.ts',
    'src/http/present.test.ts',
  ],
  'src/connectors/checks/redact.ts': [
    'src/connectors/checks/redact.test.ts',
    'src/connectors/checks/said.test.ts',
  ],
  'src/connectors/checks/said.ts': [
    'src/connectors/checks/said.test.ts',
    'src/connectors/checks/redact.test.ts',
  ],
  'src/connectors/checks/answer.ts': [
    'src/connectors/checks/answer.test.ts',
    'test/http/checks-bounds.test.ts',
  ],
  'src/connectors/checks/limit.ts': ['src/connectors/checks/limit.test.ts'],
  'src/connectors/checks/disguise.ts': ['src/connectors/checks/disguise.test.ts'],
  // Keep-alive reuse (issue 12's engine): a connection is reused only by a call whose own SSRF check allowed its address.
  'src/outbound/exchange.ts': [
    'src/outbound/exchange.test.ts',
    'src/outbound/exchange-wire.test.ts',
    'src/outbound/client.test.ts',
    'src/outbound/client-pool.test.ts',
    'src/outbound/client-deadline.test.ts',
  ],
  // Reads answered before Fastify (issue 15): its own key check, tenancy and fall-through to the route.
  'src/http/fast-reads.ts': ['test/http/fast-reads.test.ts', 'test/http/fast-reads-edges.test.ts'],
  'src/connectors/delivery-http.ts': ['src/connectors/delivery-http.test.ts'],
  'src/deliveries/schedule.ts': ['src/deliveries/schedule.test.ts'],
  // The pooled CSPRNG behind ids and AES-GCM nonces (issue 15): a byte handed out twice would reuse a nonce.
  'src/random.ts': ['src/random.test.ts', 'src/secrets/cipher.test.ts'],
};

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The modules and options on the command line; exits with a message on anything else.
 * @param {string[]} args
 */
function parseArgs(args) {
  /** @type {string[]} */
  const modules = [];
  let concurrency = 1;
  let full = false;
  for (let i = 0; i < args.length; i++) {
    const arg = /** @type {string} */ (args[i]);
    if (arg === '--full') full = true;
    else if (arg === '--concurrency') {
      const value = args[++i] ?? '';
      if (!/^[1-9]\d*$/.test(value))
        fail(`--concurrency takes a positive integer, not ${JSON.stringify(value)}`);
      concurrency = Number(value);
    } else if (arg in MODULES) modules.push(arg);
    else
      fail(
        `${JSON.stringify(arg)} is not a module this script knows; use one of:\n  ${Object.keys(MODULES).join('\n  ')}\n(or add it with its test files to MODULES in scripts/mutation.mjs)`,
      );
  }
  return { modules: modules.length > 0 ? modules : Object.keys(MODULES), concurrency, full };
}

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`mutation: ${message}\n`);
  process.exit(2);
}

/**
 * Runs Stryker on one module; its score from the JSON report (killed and timed-out over the
 * mutants that ran: survived, no coverage, killed, timed-out), or undefined when Stryker failed.
 * @param {string} module
 * @param {{ concurrency: number; full: boolean }} options
 */
function mutate(module, { concurrency, full }) {
  const slug = module
    .replace(/^src\//, '')
    .replace(/\.ts$/, '')
    .replaceAll('/', '-');
  const dir = join('reports', 'mutation', slug);
  mkdirSync(join(root, dir), { recursive: true });
  const config = {
    $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    mutate: [module],
    testRunner: 'vitest',
    vitest: { configFile: 'scripts/mutation-vitest.config.mjs', related: false },
    coverageAnalysis: 'perTest',
    concurrency,
    timeoutMS: 30_000,
    incremental: true,
    incrementalFile: join(dir, 'incremental.json'),
    force: full,
    reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
    htmlReporter: { fileName: join(dir, 'index.html') },
    jsonReporter: { fileName: join(dir, 'mutation.json') },
    clearTextReporter: { allowColor: false, logTests: false },
    ignorePatterns: ['reports', 'data', 'coverage', '*.db*', '.vitest-results.json'],
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
  };
  const configFile = join(dir, 'stryker.config.json');
  writeFileSync(join(root, configFile), `${JSON.stringify(config, null, 2)}\n`);
  const tests = /** @type {string[]} */ (MODULES[module]);
  process.stdout.write(`\n== ${module} (tests: ${tests.join(', ')})\n`);
  const started = Date.now();
  const result = spawnSync('npx', ['stryker', 'run', configFile], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MUTATION_TESTS: tests.join(',') },
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (result.status !== 0) return { module, minutes, score: undefined };
  /** @type {{ files: Record<string, { mutants: { status: string }[] }> }} */
  const report = JSON.parse(readFileSync(join(root, dir, 'mutation.json'), 'utf8'));
  /** @type {Record<string, number>} */
  const counts = {};
  for (const file of Object.values(report.files))
    for (const mutant of file.mutants) counts[mutant.status] = (counts[mutant.status] ?? 0) + 1;
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
  const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
  return { module, minutes, score: valid === 0 ? undefined : (100 * detected) / valid, detected, valid };
}

// Only when run as a script: MODULES is exported, and importing this file must not start Stryker.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = parseArgs(process.argv.slice(2));
  const results = options.modules.map((module) => mutate(module, options));
  process.stdout.write('\nmodule | score | killed+timeout / valid | minutes\n');
  for (const r of results)
    process.stdout.write(
      r.score === undefined
        ? `${r.module} | Stryker failed | | ${r.minutes}\n`
        : `${r.module} | ${r.score.toFixed(1)} % | ${r.detected} / ${r.valid} | ${r.minutes}\n`,
    );
  if (results.some((r) => r.score === undefined)) process.exitCode = 1;
}
