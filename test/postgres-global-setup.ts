import pg from 'pg';
import type { TestProject } from 'vitest/node';

/**
 * Global setup of the `postgres` test project: makes a database for this run on the PostgreSQL
 * that this machine kind runs (PLUGBOARD_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test),
 * and drops it at the end. When none answers, the PostgreSQL tests are skipped with the reason, or
 * fail with CI=true (test/postgres-setup.ts).
 */
const ADMIN_URL = process.env.PLUGBOARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
  } catch (error) {
    const where = new URL(ADMIN_URL);
    const reason =
      `PostgreSQL does not answer at ${where.host}${where.pathname} (${error instanceof Error ? error.message : String(error)}); ` +
      'start it (e.g. pg_ctlcluster 15 main start) or set PLUGBOARD_TEST_POSTGRES_URL';
    if (process.env.CI === 'true') throw new Error(`CI=true: ${reason}`);
    project.provide('postgres', { unavailable: reason });
    return async () => {};
  }
  const name = `plugboard_test_${process.pid}_${Date.now()}`;
  await client.query(`create database ${name}`);
  await client.end();
  project.provide('postgres', { url: withDatabase(ADMIN_URL, name) });
  return async () => {
    const cleanup = new pg.Client({ connectionString: ADMIN_URL });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${name} with (force)`);
    await cleanup.end();
  };
}
