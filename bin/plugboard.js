#!/usr/bin/env node
// The `plugboard` command. The TypeScript sources are compiled to dist/ and bundled into
// dist/plugboard.mjs by `npm ci` (the package's `prepare` script) or by `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/plugboard.mjs', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('plugboard: dist/plugboard.mjs is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}
await import(entry.href);
