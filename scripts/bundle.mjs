// Bundles the compiled CLI (dist/cli.js and everything it imports) into one file,
// dist/plugboard.mjs, which bin/plugboard.js runs. Loading ~700 small module files cost about
// half of the start-up time (issue 3 asks for a ready /healthz in under 400 ms); one file loads
// in a fraction of that. tsc still type-checks and emits dist/ (tests import the sources).
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli.js'],
  outfile: 'dist/plugboard.mjs',
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
  // The CommonJS packages inside the bundle call require(); give the ES module one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  legalComments: 'linked',
  logLevel: 'warning',
});
