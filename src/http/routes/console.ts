import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../errors.js';

/**
 * The web console (`/`) and the API reference (`/docs`): pages and hashed files that
 * scripts/build-console.mjs builds into dist/console/ from console/. Same origin as the API,
 * nothing fetched from anywhere else, no inline script or style (the policy below forbids both).
 */

/** What a console page may load: its own files, and call its own API. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // Swagger UI's stylesheet draws its icons as data: SVGs.
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const pageHeaders = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // The pages name the hashed files of the build they came with: always ask again.
  'cache-control': 'no-cache',
};

/** The routes this module adds: pages and files, no operations of the API (left out of the OpenAPI document). */
export const CONSOLE_ROUTES: readonly string[] = ['/', '/docs', '/assets/*'];

/** The built console: the nearest dist/console/ above this module (src/, dist/ or the one-file bundle). */
export function findConsoleDir(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dist', 'console');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function notBuilt(dir: string | undefined): AppError {
  return new AppError(
    'NOT_FOUND',
    `the console is not built (no index.html in ${dir ?? 'dist/console/'}): run npm run build, ` +
      'or set PLUGBOARD_CONSOLE=off to serve the API alone',
  );
}

function sendPage(reply: FastifyReply, html: string | undefined, dir: string | undefined): FastifyReply {
  if (html === undefined) throw notBuilt(dir);
  return reply.headers(pageHeaders).type('text/html; charset=utf-8').send(html);
}

function readPage(dir: string | undefined, name: string): string | undefined {
  if (dir === undefined) return undefined;
  const path = join(dir, name);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * GET / (the console), GET /docs (the API reference) and GET /assets/* (their files, named by their
 * content's hash, so cached for a year). `dir` is the built console; undefined: not built, and the
 * pages say how to build it.
 */
export async function consoleRoutes(app: FastifyInstance, dir: string | undefined): Promise<void> {
  const index = readPage(dir, 'index.html');
  const docs = readPage(dir, 'docs.html');
  if (index === undefined) {
    app.log.warn(
      `the console is not built (${dir ?? 'no dist/console/ found'}): / and /docs say so; run npm run build`,
    );
  }
  const hide = { hide: true };
  app.get('/', { schema: hide }, async (_request, reply) => sendPage(reply, index, dir));
  app.get('/docs', { schema: hide }, async (_request, reply) => sendPage(reply, docs, dir));
  if (dir === undefined || index === undefined) return;
  await app.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: '/assets/',
    decorateReply: false,
    // A listing of the folder, dotfiles and index.html lookups: none of them is wanted here.
    index: false,
    list: false,
    dotfiles: 'deny',
    immutable: true,
    maxAge: '365d',
    cacheControl: true,
    setHeaders: (response) => {
      response.setHeader('x-content-type-options', 'nosniff');
    },
  });
}
