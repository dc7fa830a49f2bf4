/**
 * The production install, as the Dockerfile does it: the packed tarball (`npm pack`, after the
 * build that `npm test` runs first) installed with production dependencies only in an empty
 * folder, from npm's cache where it has the packages (`--prefer-offline`; CI has the registry for
 * the rest), then `plugboard serve` from there. better-sqlite3 is compiled for this Node.js on
 * the way (its prebuilt binaries are not reachable here), which takes a few minutes.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, withTimeout } from './process-helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const KEY = 'install-test-key-0123456789abcdef';

/** Runs a command to its end; throws with its output when it fails. */
function run(command: string, args: readonly string[], cwd: string, timeoutMs: number) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    // npm's own settings from the environment (a developer's registry, cache) apply; its colours do not.
    env: { ...process.env, NO_COLOR: '1', npm_config_color: 'false', npm_config_progress: 'false' },
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${output}`);
  }
  return output;
}

describe('npm pack, then a production install in an empty folder', () => {
  let folder: string;
  let tarball: string;
  let installOutput: string;
  let server: ChildProcess | undefined;

  beforeAll(() => {
    if (!existsSync(join(root, 'dist/plugboard.cjs')))
      throw new Error('dist/plugboard.cjs is missing: npm run build');
    folder = mkdtempSync(join(tmpdir(), 'plugboard-install-'));
    // --ignore-scripts: `prepare` would build again what npm test has just built.
    const packed = run(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', folder],
      root,
      60_000,
    );
    const [{ filename }] = JSON.parse(packed.slice(packed.indexOf('['))) as [{ filename: string }];
    tarball = join(folder, filename);
    const app = join(folder, 'app');
    run('mkdir', ['-p', app], folder, 5_000);
    // What npm may run at install: better-sqlite3's build, as in our own package.json; not our
    // own `prepare` (npm runs none for a tarball, but warns unless told).
    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify({ private: true, allowScripts: { ...manifest.allowScripts, plugboard: false } }, null, 2)}\n`,
    );
    installOutput = run(
      'npm',
      ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball],
      app,
      INSTALL_TIMEOUT_MS,
    );
  }, INSTALL_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    if (server?.exitCode === null) {
      server.kill('SIGKILL');
      await new Promise((resolve) => server?.once('close', resolve));
    }
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('packs the bundle, the console and the command, not the sources', () => {
    const listed = run('tar', ['tzf', tarball], folder, 10_000).split('\n').filter(Boolean);
    for (const file of [
      'bin/plugboard.js',
      'dist/plugboard.cjs',
      // Compiled code for the start-up (bin/plugboard.js): made by the build with this Node.js.
      'dist/plugboard.cjs.cache',
      'dist/console/index.html',
      'package.json',
    ]) {
      expect(listed, file).toContain(`package/${file}`);
    }
    const allowed =
      /^package\/(README\.md|package\.json|bin\/plugboard\.js|dist\/plugboard\.cjs(\.cache|\.LEGAL\.txt)?|dist\/console\/.+)$/;
    expect(listed.filter((file) => !allowed.test(file))).toEqual([]);
  });

  it('installs the production dependencies alone, without a warning', () => {
    // npm 11 lists our own `prepare` among "install scripts not yet covered by allowScripts" even
    // with `plugboard: false` in the installing package's allowScripts, though it never runs a
    // tarball's prepare. That notice, naming our package and no other, is the one tolerated.
    const notice = installOutput.split('\n').filter((line) => line.startsWith('npm warn install-scripts'));
    const named = notice.filter((line) => /@\d/.test(line));
    expect(
      named.every((line) => /^npm warn install-scripts\s+plugboard@/.test(line)),
      notice.join('\n'),
    ).toBe(true);
    const rest = installOutput
      .split('\n')
      .filter((line) => !line.startsWith('npm warn install-scripts'))
      .join('\n');
    expect(rest, installOutput).not.toMatch(/npm (warn|WARN|error|ERR)/);
    const installed = join(folder, 'app/node_modules');
    for (const name of Object.keys(manifest.dependencies))
      expect(existsSync(join(installed, name)), name).toBe(true);
    for (const bundled of ['fastify', 'typescript', 'vitest', 'kysely', 'prom-client']) {
      expect(existsSync(join(installed, bundled)), bundled).toBe(false);
    }
  });

  it('runs plugboard serve: /healthz, a stored connector, /metrics, and a clean stop', async () => {
    const app = join(folder, 'app');
    const started = spawn(join(app, 'node_modules/.bin/plugboard'), ['serve'], {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(app, 'data/plugboard.db')}`,
        PLUGBOARD_API_KEY: KEY,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = started;
    let stdout = '';
    let stderr = '';
    started.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    started.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => started.once('close', resolve));
    const base = await waitFor(
      'the installed server to listen',
      () => {
        if (started.exitCode !== null) throw new Error(`plugboard serve exited:\n${stdout}\n${stderr}`);
        return /Server listening at (http:\/\/[\d.:]+)/.exec(stdout)?.[1];
      },
      { timeoutMs: 20_000 },
    );
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const created = await fetch(`${base}/api/connectors`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'from the tarball', type: 'slack', params: {} }),
    });
    expect(created.status).toBeLessThan(300);
    const listed = (await (await fetch(`${base}/api/connectors`, { headers })).json()) as { name: string }[];
    expect(listed.map((connector) => connector.name)).toEqual(['from the tarball']);
    const metrics = await fetch(`${base}/metrics`, { headers });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('plugboard_http_request_duration_seconds_bucket');
    started.kill('SIGTERM');
    expect(await withTimeout(exited, 15_000, 'the installed server to stop')).toBe(0);
    for (const line of stdout.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
    expect(stderr).toBe('');
  });
});
