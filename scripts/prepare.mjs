// npm's `prepare` step (run by `npm ci`/`npm install` in a checkout, and by `npm pack`): builds
// dist/ (`npm run build`) when the compiler is installed. `npm ci --omit=dev` leaves out the
// compiler and the bundler, and needs no build when dist/plugboard.cjs is there already; without
// it, it says what to do instead of failing with `tsc: not found`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url);
const bundle = new URL('dist/plugboard.cjs', root);

/** Whether a package resolves from this checkout's node_modules. @param {string} name */
function installed(name) {
  try {
    createRequire(new URL('package.json', root)).resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

if (installed('typescript') && installed('esbuild')) {
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: root });
  process.exit(build.status ?? 1);
}
if (existsSync(bundle)) {
  process.stderr.write(
    'plugboard: the dev dependencies are not installed (--omit=dev): using the dist/plugboard.cjs already built\n',
  );
  process.exit(0);
}
process.stderr.write(
  [
    'plugboard: cannot build: TypeScript and esbuild are dev dependencies, left out by --omit=dev,',
    'and dist/plugboard.cjs is not built. Either install everything (npm ci), or build once and',
    'install the packed tarball with production dependencies only (see "Production install" in',
    'README.md: npm ci && npm pack, then npm install --omit=dev ./plugboard-<version>.tgz).',
    '',
  ].join('\n'),
);
process.exit(1);
