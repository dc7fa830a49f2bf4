/**
 * `npm pack` of clients/typescript gives a tarball that installs into an empty folder (its one
 * dependency, openapi-fetch, from npm's cache where it has it: `--prefer-offline`, as the
 * production install test does; npm 11.19 asks for the full registry document of each dependency
 * of a tarball, which `npm ci` does not cache, so a strict `--offline` fails on a fresh machine)
 * and works there against a real server, from plain JavaScript as another project would use it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestContext } from './helpers.js';

const clientDir = new URL('../clients/typescript/', import.meta.url).pathname;
let folder: string;
let t: TestContext;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'plugboard-client-pack-'));
  t = await buildTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  rmSync(folder, { recursive: true, force: true });
  await t.close();
});

it("packs, installs into an empty folder from npm's cache, and talks to a server", async () => {
  const npm = (args: string[], cwd: string) =>
    execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', folder], clientDir)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = packed[0]?.files.map((f) => f.path) ?? [];
  expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/openapi.d.ts']));
  expect(files.filter((f) => f.startsWith('src/') || f.startsWith('scripts/'))).toEqual([]);

  const project = join(folder, 'app');
  execFileSync('mkdir', [project]);
  writeFileSync(join(project, 'package.json'), '{"name":"app","private":true,"type":"module"}\n');
  npm(
    ['install', '--prefer-offline', '--no-audit', '--no-fund', join(folder, packed[0]?.filename ?? '')],
    project,
  );
  expect(readdirSync(join(project, 'node_modules'))).toEqual(
    expect.arrayContaining(['@plugboard', 'openapi-fetch']),
  );

  const address = t.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  writeFileSync(
    join(project, 'use.mjs'),
    `import { createPlugboardClient } from '@plugboard/client';
const client = createPlugboardClient({ baseUrl: 'http://127.0.0.1:${address.port}', token: process.env.TOKEN });
const created = await client.connectors.create({ type: 'slack', name: 'from the tarball', params: {} });
const types = await client.types.list();
console.log(JSON.stringify({ name: created.name, types: types.length }));
`,
  );
  // Not execFileSync: the server answering it runs in this process.
  const { stdout: output } = await promisify(execFile)('node', ['use.mjs'], {
    cwd: project,
    encoding: 'utf8',
    env: { ...process.env, TOKEN: t.keys.write },
    timeout: 30_000,
  });
  expect(JSON.parse(output)).toEqual({ name: 'from the tarball', types: expect.any(Number) });
}, 180_000);
