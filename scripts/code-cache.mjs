// Makes dist/plugboard.cjs.cache, V8's compiled code for what a server's start runs (see
// bin/plugboard.js): starts `plugboard serve` on a throw-away SQLite database twice, each time up to
// a 200 from /healthz, and the second, a restart (below), writes the code compiled by then as it
// exits (PLUGBOARD_WRITE_CODE_CACHE). Run by scripts/bundle.mjs after each bundle; exits 1 without a
// cache.
//
// The cache fits the Node.js (V8 version and flags) that made it: the one that runs `npm run build`
// or `npm ci`, so the image and a production install built with the Node.js they run on use it; a
// start on another refuses it and compiles the bundle from its source.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './bench/server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheFile = join(root, 'dist/plugboard.cjs.cache');
const TIMEOUT_MS = 60_000;

/** @param {string} url @returns {Promise<number>} the status, 0 when nothing answered */
function statusOf(url) {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 2_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

const folder = mkdtempSync(join(tmpdir(), 'plugboard-code-cache-'));
let output = '';

/**
 * Starts `plugboard serve` on the folder's database, waits for a 200 from /healthz and stops it.
 * @param {Record<string, string>} settings added to the environment
 */
async function startAndStop(settings) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin/plugboard.js'), 'serve'], {
    cwd: folder,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: `sqlite:${join(folder, 'plugboard.db')}`,
      PLUGBOARD_MASTER_KEY: masterKey,
      ...settings,
    },
  });
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    if (ended) throw new Error('the server exited before it answered /healthz');
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not answer /healthz within ${TIMEOUT_MS / 1000} s`);
    }
    if ((await statusOf(`http://127.0.0.1:${port}/healthz`)) === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`the server exited with ${code} when stopped`);
}

const masterKey = randomBytes(32).toString('base64');
try {
  rmSync(cacheFile, { force: true });
  // The cache holds what the start that writes it compiled, and every start deserializes all of
  // it: that start is a restart, as nearly every start is, on a database migrated and with its
  // keys made by a first start (compiled from the source) before it, not the first start on a new
  // database, whose migrations and key creation a restart never runs (~14 % of the functions).
  await startAndStop({ PLUGBOARD_API_KEY: randomBytes(24).toString('base64url') });
  await startAndStop({ PLUGBOARD_WRITE_CODE_CACHE: '1' });
  if (!existsSync(cacheFile)) throw new Error('the server wrote no cache');
} catch (error) {
  process.stderr.write(
    `code-cache: ${error instanceof Error ? error.message : String(error)}\n${output.slice(-2_000)}`,
  );
  rmSync(cacheFile, { force: true });
  process.exitCode = 1;
} finally {
  rmSync(folder, { recursive: true, force: true });
}
