import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { connectorTypes, type RegisteredType } from '../connectors/registry.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './database.js';

// Test support, kept out of the build and the bundle (tsconfig.build.json) and type-checked by
// `tsc --noEmit`: the store tests' SQLite database, made fresh for each test in a directory of its
// own, migrated, with one account, and closed and removed after it.

/** The database of the running test; read its fields inside a test or a hook, not at import. */
export interface SqliteFixture {
  readonly dir: string;
  /** The database file. */
  readonly path: string;
  readonly handle: DatabaseHandle;
  /** The one account, `acme`. */
  readonly accountId: number;
}

/**
 * Registers the hooks that give each test of the file (or of the `describe` it is called in) a
 * fresh migrated SQLite database; `ready` runs after the account exists (a store over it, rows).
 */
export function useSqliteStore(
  prefix: string,
  ready?: (fixture: SqliteFixture) => Promise<void> | void,
): SqliteFixture {
  let current: SqliteFixture | undefined;
  const now = (): SqliteFixture => {
    if (!current) throw new Error('the store fixture is read outside a test');
    return current;
  };
  beforeEach(async () => {
    const dir = mkdtempSync(join(tmpdir(), `plugboard-${prefix}-`));
    const path = join(dir, 'p.db');
    const handle = openDatabase({ kind: 'sqlite', path });
    await migrateToLatest(handle);
    const account = await handle.db
      .insertInto('accounts')
      .values({ name: 'acme', created_at: new Date().toISOString() })
      .returning('id')
      .executeTakeFirstOrThrow();
    current = { dir, path, handle, accountId: account.id };
    await ready?.(current);
  });
  afterEach(async () => {
    const done = current;
    current = undefined;
    if (!done) return;
    await done.handle.close();
    rmSync(done.dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return now().dir;
    },
    get path() {
      return now().path;
    },
    get handle() {
      return now().handle;
    },
    get accountId() {
      return now().accountId;
    },
  };
}

/** The registered connector type `id`; throws for one not registered. */
export function typeOf(id: string): RegisteredType {
  const type = connectorTypes.find((candidate) => candidate.id === id);
  if (!type) throw new Error(`no type ${id}`);
  return type;
}

/** Valid, distinct jira params for the n-th connector of a test. */
export const jiraParams = (n: number) => ({
  url: `https://jira-${n}.example.com`,
  email: `bot-${n}@example.com`,
  password: `secret-${n}`,
});
