import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * The Node.js versions package.json's `engines` names are the ones every installed package
 * supports, so that `npm ci` warns of none (EBADENGINE) on any of them. Checked with npm's own
 * range logic (semver): our range must lie inside each package's.
 */
const root = new URL('../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('supported Node.js versions', () => {
  const ours = manifest.engines.node;

  it('include the Node.js running this test', () => {
    expect(semver.satisfies(process.version, ours), `${process.version} in ${ours}`).toBe(true);
  });

  // Optional packages for another platform (rolldown's bindings for WebAssembly, Windows… and
  // what only they need) are not installed here; npm checks them where they are.
  it('are supported by every package package-lock.json installed here', () => {
    const narrower: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '' || Array.isArray(entry.engines) || !existsSync(new URL(path, root))) continue;
      const theirs = entry.engines?.node;
      if (theirs === undefined || theirs.trim() === '*') continue;
      if (!semver.subset(ours, theirs)) narrower.push(`${path}@${entry.version}: ${theirs}`);
    }
    expect(narrower).toEqual([]);
  });

  it("light-my-request's cookie (overridden to 1.1.1, which supports Node 20) serializes the cookies of app.inject", async () => {
    const fromLightMyRequest = createRequire(createRequire(import.meta.url).resolve('light-my-request'));
    const cookie = JSON.parse(readFileSync(fromLightMyRequest.resolve('cookie/package.json'), 'utf8')) as {
      version: string;
      engines: { node: string };
    };
    expect(cookie.version).toBe('1.1.1');
    expect(semver.subset(ours, cookie.engines.node)).toBe(true);
    // The code path that uses it: inject's `cookies` become a Cookie header.
    const app = Fastify();
    app.get('/', async (request) => ({ cookie: request.headers.cookie }));
    const response = await app.inject({ method: 'GET', url: '/', cookies: { session: 'a b;c', other: 'x' } });
    expect(response.json()).toEqual({ cookie: 'session=a%20b%3Bc; other=x' });
    await app.close();
  });
});
