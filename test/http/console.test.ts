import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../src/http/routes/console.js';
import { buildTestApp, type ErrorResponse, json, type TestContext } from '../helpers.js';

/** The budget of issue 14: the console's JS and CSS, gzipped (the API reference not counted). */
const CONSOLE_BUDGET = 100 * 1000;

/** The files a page names in its <script src> and <link href>. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1] ?? '');
}

describe('the console and the API reference', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it.each(['/', '/docs'])(
    'serves %s under a strict Content-Security-Policy, with no inline script or style',
    async (path) => {
      const response = await t.call('GET', path, { key: null });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(CONSOLE_CSP).toContain("script-src 'self'");
      expect(CONSOLE_CSP).not.toContain('unsafe');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['cache-control']).toBe('no-cache');
      const html = response.body;
      // Every script is a file of this server; no <style>, no style="", no on…="" handler, no other origin.
      for (const script of html.match(/<script[^>]*>[\s\S]*?<\/script>/g) ?? []) {
        expect(script).toMatch(/^<script type="module" src="\/assets\/[^"]+"><\/script>$/);
      }
      expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=|https?:\/\//i);
      expect(assetsOf(html).length).toBeGreaterThanOrEqual(3);
    },
  );

  it('serves the files the pages name, by content hash, cached for a year', async () => {
    const pages = await Promise.all(['/', '/docs'].map((path) => t.call('GET', path, { key: null })));
    for (const asset of pages.flatMap((page) => assetsOf(page.body))) {
      expect(asset).toMatch(/^\/assets\/[a-z]+-[A-Za-z0-9_-]{8,}\.(js|css|svg)$/);
      const response = await t.call('GET', asset, { key: null });
      expect(response.statusCode, asset).toBe(200);
      expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      const kind = asset.split('.').pop();
      const types = { js: 'application/javascript', css: 'text/css', svg: 'image/svg+xml' };
      expect(response.headers['content-type']).toContain(types[kind as keyof typeof types]);
    }
  });

  it(`keeps the console's JS+CSS within ${CONSOLE_BUDGET / 1000} KB gzipped`, async () => {
    const index = await t.call('GET', '/', { key: null });
    const files = assetsOf(index.body).filter((asset) => /\.(js|css)$/.test(asset));
    expect(files.map((file) => file.split('.').pop()).sort()).toEqual(['css', 'js']);
    let total = 0;
    for (const file of files) {
      const body = (await t.call('GET', file, { key: null })).rawPayload;
      const gzipped = gzipSync(body, { level: 9 });
      expect(gunzipSync(gzipped).equals(body)).toBe(true);
      total += gzipped.length;
    }
    const verdict = total <= CONSOLE_BUDGET ? 'PASS' : 'FAIL';
    console.log(
      `console JS+CSS: ${(total / 1000).toFixed(1)} KB gzipped (budget ${CONSOLE_BUDGET / 1000} KB) ${verdict}`,
    );
    expect(total).toBeLessThanOrEqual(CONSOLE_BUDGET);
  });

  it('answers a file that is not there, or outside the folder, with the API error shape', async () => {
    for (const path of [
      '/assets/nothing-here.js',
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
    ]) {
      const response = await t.call('GET', path, { key: null });
      expect(response.statusCode, path).toBe(404);
      expect(json<ErrorResponse>(response).code).toBe('NOT_FOUND');
    }
    const posted = await t.call('POST', '/', { key: null, body: {} });
    expect(posted.statusCode).toBe(405);
    expect(posted.headers.allow).toBe('GET, HEAD');
  });
});

describe('PLUGBOARD_CONSOLE=off', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestApp({ console: 'off' });
  });
  afterAll(() => t.close());

  it('serves no console and no reference page; the API and its document stay', async () => {
    for (const path of ['/', '/docs', '/assets/nothing.js']) {
      const response = await t.call('GET', path, { key: null });
      expect(response.statusCode, path).toBe(404);
      expect(json<ErrorResponse>(response).message).toContain(`no route GET ${path}`);
    }
    expect((await t.call('GET', '/api/openapi.json', { key: null })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/connectors')).statusCode).toBe(200);
  });
});

describe('a console that was not built', () => {
  let t: TestContext;
  let empty: string;
  beforeAll(async () => {
    empty = mkdtempSync(join(tmpdir(), 'plugboard-no-console-'));
    t = await buildTestApp({ consoleDir: empty });
  });
  afterAll(async () => {
    await t.close();
    rmSync(empty, { recursive: true, force: true });
  });

  it('says how to build it, at / and /docs, and in the log at start', async () => {
    for (const path of ['/', '/docs']) {
      const response = await t.call('GET', path, { key: null });
      expect(response.statusCode).toBe(404);
      expect(json<ErrorResponse>(response).message).toMatch(/console is not built .*run npm run build/);
    }
    expect(t.logs.some((line) => line.includes('the console is not built'))).toBe(true);
  });
});

describe('GET /api/me', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it("names the key's account, role and label, and whether it reads secrets", async () => {
    const write = await t.call('GET', '/api/me');
    expect(write.statusCode).toBe(200);
    expect(json(write)).toEqual({
      account: 'acme',
      role: 'write',
      secrets: 'shown',
      key: { id: expect.stringMatching(/^key_/), label: 'test write' },
    });
    const read = json<{ role: string; secrets: string; account: string }>(
      await t.call('GET', '/api/me', { key: t.keys.otherRead }),
    );
    expect(read).toMatchObject({ account: 'globex', role: 'read', secrets: 'masked' });
  });

  it('needs a key', async () => {
    const response = await t.call('GET', '/api/me', { key: null });
    expect(response.statusCode).toBe(401);
    expect(json<ErrorResponse>(response).code).toBe('UNAUTHORIZED');
  });

  it('says secrets are masked for a write key too when PLUGBOARD_REVEAL_SECRETS=never', async () => {
    const never = await buildTestApp({ revealSecrets: 'never' });
    try {
      expect(json(await never.call('GET', '/api/me'))).toMatchObject({ role: 'write', secrets: 'masked' });
    } finally {
      await never.close();
    }
  });
});
