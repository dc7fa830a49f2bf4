import { defineConfig } from 'vitest/config';

/**
 * The HTTP suite: every file that drives the API through buildTestApp. The `postgres` project runs
 * these same files on PostgreSQL (test/backend.ts); `sqlite` runs everything on the embedded default.
 */
const httpSuite = [
  'test/audit.test.ts',
  'test/auth.test.ts',
  'test/checks.test.ts',
  'test/connector-types.test.ts',
  'test/connectors.test.ts',
  'test/hostile-input.test.ts',
  'test/http.test.ts',
  'test/idempotency.test.ts',
  'test/overload.test.ts',
  'test/paging.test.ts',
  'test/rate-limit.test.ts',
  'test/secrets.test.ts',
  'test/tenancy.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/postgres*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: [...httpSuite, 'test/postgres*.test.ts'],
          env: { PLUGBOARD_TEST_BACKEND: 'postgres' },
          globalSetup: ['test/postgres-global-setup.ts'],
          setupFiles: ['test/postgres-setup.ts'],
        },
      },
    ],
  },
});
