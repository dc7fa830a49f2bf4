import { connect } from 'node:net';
import { defineConfig } from 'vitest/config';

const POSTGRES_URL = process.env.PLUGBOARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why the PostgreSQL project cannot run here (nothing listens where it should), or undefined. */
async function postgresMissing(): Promise<string | undefined> {
  const url = new URL(POSTGRES_URL);
  const where = `${url.hostname}:${url.port || '5432'}`;
  return new Promise((resolve) => {
    const socket = connect(Number(url.port || 5432), url.hostname);
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(2_000, () => done(`nothing answers at ${where} within 2 s`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error) => done(`nothing answers at ${where} (${error.message})`));
  });
}

// Outside CI, without a PostgreSQL the `postgres` project runs one skipped test naming the reason
// (its files would fail in their beforeAll hooks). With CI=true it runs, and fails.
const missing = process.env.CI === 'true' ? undefined : await postgresMissing();
if (missing) console.warn(`PostgreSQL tests skipped: ${missing} (CI=true makes them run and fail)`);

/**
 * The HTTP suite: every file in test/http/ drives the API through buildTestApp. The `postgres`
 * project runs these same files on PostgreSQL (test/backend.ts); `sqlite` runs everything on the
 * embedded default. A new HTTP test belongs in test/http/ and so runs on both.
 */
const httpSuite = ['test/http/**/*.test.ts'];

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
          exclude: ['test/postgres*.test.ts', 'test/unavailable-postgres.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: missing ? ['test/unavailable-postgres.test.ts'] : [...httpSuite, 'test/postgres*.test.ts'],
          env: { PLUGBOARD_TEST_BACKEND: 'postgres', PLUGBOARD_TEST_POSTGRES_MISSING: missing ?? '' },
          globalSetup: ['test/postgres-global-setup.ts'],
          setupFiles: ['test/postgres-setup.ts'],
        },
      },
    ],
  },
});
