// Bundles the compiled CLI (dist/cli.js and everything it imports) into one CommonJS file,
// dist/plugboard.cjs, which bin/plugboard.js compiles with V8's code cache
// (dist/plugboard.cjs.cache, made here by scripts/code-cache.mjs). Loading ~700 small module files
// cost about half of the start-up time (issue 3 asks for a ready /healthz in under 400 ms); one
// file loads in a fraction of that. Parsing and compiling that file was then the largest part of
// a server's start (issue 15: a ready /healthz within 3 × a bare node:http server's start), and
// Node 20 caches compiled code only for scripts compiled through node:vm, not for ES modules:
// hence CommonJS. Code behind a dynamic import() (the server, each CLI command, Redis) is still
// evaluated only when that import runs. tsc still type-checks and emits dist/ (tests import the
// sources).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { build } from 'esbuild';
import { fastifyPluginSemver, lazyRequires, nodeOnlyPg } from './lazy-requires.mjs';

// What earlier builds left: the ES module bundle and its chunks (before the code cache), and the
// cache of the bundle about to be replaced (a cache is only ever used with the bundle it was made
// from, bin/plugboard.js checks; removed first all the same).
rmSync('dist/chunks', { recursive: true, force: true });
rmSync('dist/plugboard.mjs', { force: true });
rmSync('dist/plugboard.mjs.LEGAL.txt', { force: true });
rmSync('dist/plugboard.cjs.cache', { force: true });

await build({
  entryPoints: ['dist/cli.js'],
  outfile: 'dist/plugboard.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The database drivers are loaded when a database of their kind is opened
  // (src/store/database.ts, sqlite-database.ts), from the bundle, where they are compiled with the
  // rest; better-sqlite3's addon from node_modules, by its path (bindings, which searches for it
  // beside its caller's file, serves only better-sqlite3 as installed); pg-native, optional, from
  // node_modules if there.
  external: ['bindings', 'pg-native'],
  // The bundle is one function expression, which bin/plugboard.js compiles as it is (no copy of
  // 2.5 MB to wrap it) and calls with CommonJS's arguments and the bundle's own file URL, which
  // the sources read as import.meta.url. esbuild's "use strict" opens the function's body.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: '(function (exports, require, module, __filename, __dirname, __importMetaUrl) {' },
  footer: { js: '})' },
  // Smaller to read at every start; names are kept, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  // Modules dependencies require as they load but use only later, if ever: loaded at first use;
  // pg without its test for Cloudflare Workers.
  plugins: [lazyRequires(), nodeOnlyPg(), fastifyPluginSemver()],
  logLevel: 'warning',
});

// The code cache: compiled code for what a server's start runs. Without it (say the build machine
// cannot run a server), everything still works, and starts compile the bundle from its source.
const made = spawnSync(process.execPath, ['scripts/code-cache.mjs'], { stdio: 'inherit' });
if (made.status !== 0) {
  process.stderr.write(
    'bundle: no code cache (see above); plugboard works without it, but starts more slowly\n',
  );
}
