#!/usr/bin/env node
/**
 * `npm run bench [-- options]`: the API benchmark (scripts/bench.mjs) with the options given, then
 * the deliveries benchmark (scripts/bench-deliveries.mjs, settings by environment variables). Exit
 * status 1 when either failed. A script of its own because npm appends the options to the end of
 * a script's line: with both commands on one line they reached the second, and bench.mjs ran with
 * none (`--quick`, `--wait-quiet` and the rest were ignored).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const options = process.argv.slice(2);
/** @param {string} name */
const script = (name) => fileURLToPath(new URL(name, import.meta.url));
/** @param {string} name @param {string[]} args */
const run = (name, args) =>
  spawnSync(process.execPath, [script(name), ...args], { stdio: 'inherit' }).status ?? 1;

const api = run('./bench.mjs', options);
// --help (and -h) only print the settings: the deliveries benchmark is not run then.
if (options.includes('--help') || options.includes('-h')) process.exit(api);
const deliveries = run('./bench-deliveries.mjs', []);
process.exit(api === 0 && deliveries === 0 ? 0 : 1);
