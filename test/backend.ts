import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { inject } from 'vitest';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../src/store/database.js';
import type { DatabaseLocation } from '../src/store/location.js';

/**
 * Which backend this run of the HTTP suite uses. The vitest project `postgres` runs the same test
 * files as `sqlite` with PLUGBOARD_TEST_BACKEND=postgres (see vitest.config.ts): one suite, two
 * backends.
 */
export const testBackend: 'sqlite' | 'postgres' =
  process.env.PLUGBOARD_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

/** What test/postgres-global-setup.ts found: a database made for this run, or why there is none. */
export type PostgresTestInfo = { readonly url: string } | { readonly unavailable: string };

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresTestInfo;
  }
}

/** The URL of the database made for this test run; throws (the test fails) when there is none. */
export function postgresTestUrl(): string {
  const info = inject('postgres');
  if (!info || 'unavailable' in info) throw new Error(`PostgreSQL is not available: ${info?.unavailable}`);
  return info.url;
}

let admin: pg.Pool | undefined;
function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: postgresTestUrl(), max: 2 });
  return admin;
}

/** A location on the test run's PostgreSQL database, in a schema of its own; dropped by `dropPostgresSchema`. */
export async function newPostgresLocation(): Promise<Extract<DatabaseLocation, { kind: 'postgres' }>> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await adminPool().query(`create schema ${schema}`);
  return { kind: 'postgres', url: postgresTestUrl(), description: `test schema ${schema}`, schema };
}

export async function dropPostgresSchema(schema: string): Promise<void> {
  await adminPool().query(`drop schema if exists ${schema} cascade`);
}

export interface TestDatabase {
  readonly handle: DatabaseHandle;
  /** Closes the handle (if the app has not) and removes what the test made. */
  dispose(): Promise<void>;
}

/**
 * A fresh, migrated database on the backend under test: in-memory SQLite (or the given file), or a
 * new schema on the test run's PostgreSQL database.
 */
export async function openTestDatabase(
  options: { sqlitePath?: string; sameAs?: DatabaseLocation; shareable?: boolean } = {},
): Promise<TestDatabase> {
  if (options.sameAs) {
    // A second handle on another test's database: a second server on the same data.
    const handle = openDatabase(options.sameAs, { poolSize: 4 });
    return { handle, dispose: () => handle.close() };
  }
  if (testBackend === 'sqlite') {
    // In memory unless a second handle may open it (`shareable`) or the test names a file.
    const dir =
      options.sqlitePath === undefined && options.shareable
        ? mkdtempSync(join(tmpdir(), 'plugboard-test-'))
        : undefined;
    const path = dir ? join(dir, 'p.db') : (options.sqlitePath ?? ':memory:');
    const handle = openDatabase({ kind: 'sqlite', path });
    await migrateToLatest(handle);
    return {
      handle,
      async dispose() {
        await handle.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const location = await newPostgresLocation();
  const handle = openDatabase(location, { poolSize: 4 });
  await migrateToLatest(handle);
  return {
    handle,
    async dispose() {
      await handle.close();
      if (location.schema) await dropPostgresSchema(location.schema);
    },
  };
}

/**
 * Everything the database holds, as text to search, by where it was found: the SQLite files
 * (the live WAL included) byte for byte, or every row of every table of the PostgreSQL schema.
 */
export async function storedText(handle: DatabaseHandle): Promise<[string, string][]> {
  const location = handle.location;
  if (location.kind === 'sqlite') {
    const files = [location.path, `${location.path}-wal`, `${location.path}-shm`].filter((file) =>
      existsSync(file),
    );
    return files.map((file): [string, string] => [file, readFileSync(file).toString('latin1')]);
  }
  const { rows: tables } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(
    handle.db,
  );
  const found: [string, string][] = [];
  for (const { name } of tables) {
    const { rows } = await sql<{ row: string }>`select t::text as row from ${sql.table(name)} t`.execute(
      handle.db,
    );
    found.push([`table ${name}`, rows.map((r) => r.row).join('\n')]);
  }
  return found;
}
