/**
 * The vitest configuration `npm run mutation` gives Stryker (scripts/mutation.mjs): the `sqlite`
 * project's setup, restricted to the test files in MUTATION_TESTS (comma-separated, relative to the
 * project root) so each mutant runs only the tests that exercise its module.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const files = (process.env.MUTATION_TESTS ?? '').split(',').filter((file) => file !== '');
if (files.length === 0) throw new Error('MUTATION_TESTS is empty: run this through `npm run mutation`');

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    name: 'sqlite',
    include: files,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
