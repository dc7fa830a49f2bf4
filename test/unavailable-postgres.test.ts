import { it } from 'vitest';

// Run by the `postgres` project instead of its files when no PostgreSQL answers (vitest.config.ts).
it.skip(`PostgreSQL tests: skipped, ${process.env.PLUGBOARD_TEST_POSTGRES_MISSING}; start PostgreSQL (pg_ctlcluster 15 main start) or set PLUGBOARD_TEST_POSTGRES_URL`, () => {});
