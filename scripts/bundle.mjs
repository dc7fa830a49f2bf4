// Bundles the compiled CLI (dist/cli.js and everything it imports) into dist/plugboard.mjs, which
// bin/plugboard.js runs, and chunks in dist/chunks/. Loading ~700 small module files cost about
// half of the start-up time (issue 3 asks for a ready /healthz in under 400 ms); one file loads
// in a fraction of that. Code behind a dynamic import() (the server, each CLI command, Redis) is
// split into chunks loaded when that import runs: a start parses only what it runs, not the
// 2.5 MB of everything (issue 15). tsc still type-checks and emits dist/ (tests import the sources).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry a hash of their content: those of an earlier build would pile up. (The
// bundle was one file with its LEGAL.txt beside it before it was split.)
rmSync('dist/chunks', { recursive: true, force: true });
rmSync('dist/plugboard.mjs.LEGAL.txt', { force: true });

await build({
  entryPoints: { plugboard: 'dist/cli.js' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The database drivers are loaded from node_modules when a database of their kind is opened
  // (src/store/database.ts); better-sqlite3 is native, pg-native optional.
  external: ['better-sqlite3', 'pg', 'pg-native'],
  // Smaller to parse at every start; names are kept, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  // The CommonJS packages inside the bundle call require(); give each ES module file one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  legalComments: 'linked',
  logLevel: 'warning',
});
