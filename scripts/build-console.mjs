// Builds the web console (console/src/main.tsx, Preact) and the API reference page
// (console/src/docs.ts, Swagger UI from npm) into dist/console/: two pages and their files in
// assets/, each file named by its content's hash (served for a year, src/http/routes/console.ts).
// No inline script or style: the pages only name the files, as the Content-Security-Policy asks.
// Prints the console's JS+CSS gzipped and fails above CONSOLE_BUDGET (the reference excluded).
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The most the console's JS and CSS may weigh, gzipped, in bytes (issue 14: 100 KB). */
export const CONSOLE_BUDGET = 100 * 1000;

const out = 'dist/console';
const assets = join(out, 'assets');
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: { console: 'console/src/main.tsx', docs: 'console/src/docs.ts' },
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome111', 'firefox111', 'safari16'],
  tsconfig: 'console/tsconfig.json',
  minify: true,
  sourcemap: false,
  legalComments: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  logLevel: 'warning',
});

/**
 * The JS and CSS files esbuild wrote for an entry.
 * @param {string} entry
 */
function outputsOf(entry) {
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (output.entryPoint !== entry) continue;
    return { js: file, css: output.cssBundle };
  }
  throw new Error(`esbuild wrote nothing for ${entry}`);
}
const url = (/** @type {string} */ file) => `/${relative(out, file).split('\\').join('/')}`;

const app = outputsOf('console/src/main.tsx');
const docs = outputsOf('console/src/docs.ts');
if (!app.css || !docs.css) throw new Error('esbuild wrote no stylesheet for the console or the reference');

const favicon = 'console/favicon.svg';
const faviconHash = createHash('sha256').update(readFileSync(favicon)).digest('base64url').slice(0, 10);
const faviconFile = join(assets, `favicon-${faviconHash}.svg`);
copyFileSync(favicon, faviconFile);

/** A page that names its files and nothing else (CSP: no inline script or style). */
function page(/** @type {{ title: string, css: string[], js: string, body: string }} */ p) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${p.title}</title>
<link rel="icon" type="image/svg+xml" href="${url(faviconFile)}">
${p.css.map((href) => `<link rel="stylesheet" href="${url(href)}">`).join('\n')}
<script type="module" src="${url(p.js)}"></script>
</head>
<body>
${p.body}
</body>
</html>
`;
}

writeFileSync(
  join(out, 'index.html'),
  page({
    title: 'Plugboard',
    css: [app.css],
    js: app.js,
    body: '<div id="app"></div>\n<noscript>The Plugboard console needs JavaScript. The API is at /api, its reference at /docs.</noscript>',
  }),
);
writeFileSync(
  join(out, 'docs.html'),
  page({
    title: 'Plugboard API reference',
    css: [docs.css],
    js: docs.js,
    body:
      '<header class="docs-bar"><strong>Plugboard API reference</strong><a href="/">Console</a>' +
      '<a href="/api/openapi.json">OpenAPI document (JSON)</a></header>\n<main id="swagger"></main>',
  }),
);

const gzipped = (/** @type {string} */ file) => gzipSync(readFileSync(file), { level: 9 }).length;
const kb = (/** @type {number} */ bytes) => `${(bytes / 1000).toFixed(1)} KB`;
const consoleBytes = gzipped(app.js) + gzipped(app.css);
const docsBytes = gzipped(docs.js) + gzipped(docs.css);
const verdict = consoleBytes <= CONSOLE_BUDGET ? 'PASS' : 'FAIL';
console.log(
  `console: JS ${kb(gzipped(app.js))} + CSS ${kb(gzipped(app.css))} gzipped = ${kb(consoleBytes)} ` +
    `(budget ${kb(CONSOLE_BUDGET)}) ${verdict}; API reference (Swagger UI, not in the budget): ` +
    `${kb(docsBytes)} gzipped, ${kb(statSync(docs.js).size + statSync(docs.css).size)} raw; ` +
    `files: ${[app.js, app.css, docs.js, docs.css].map((file) => basename(file)).join(', ')}`,
);
if (verdict === 'FAIL') {
  console.error(`the console's JS+CSS is over its budget of ${kb(CONSOLE_BUDGET)} gzipped: make it smaller`);
  process.exit(1);
}
