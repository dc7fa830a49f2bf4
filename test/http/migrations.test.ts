import { Migrator } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/store/database.js';
import { migrations } from '../../src/store/migrations/index.js';
import { dropPostgresSchema, newPostgresLocation, testBackend } from '../backend.js';

/** Runs on both backends: the database under test, migrated step by step. */
let handle: DatabaseHandle | undefined;
let schema: string | undefined;
afterEach(async () => {
  await handle?.close();
  if (schema) await dropPostgresSchema(schema);
  handle = undefined;
  schema = undefined;
});

async function fresh(): Promise<DatabaseHandle> {
  if (testBackend === 'sqlite') return openDatabase({ kind: 'sqlite', path: ':memory:' });
  const location = await newPostgresLocation();
  schema = location.schema;
  return openDatabase(location, { poolSize: 1 });
}

function migrator(db: DatabaseHandle, upTo: string): Migrator {
  const names = Object.keys(migrations).filter((name) => name <= upTo);
  const provider = {
    getMigrations: async () => Object.fromEntries(names.map((name) => [name, migrations[name]])),
  };
  return new Migrator({
    db: db.db,
    provider: provider as never,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

describe('migration 0005-idempotency-owner', () => {
  it('keeps every record, without an owner yet, and lets two API keys hold the same Idempotency-Key', async () => {
    handle = await fresh();
    expect((await migrator(handle, '0004-connectors-version').migrateToLatest()).error).toBeUndefined();
    const db = handle.db;
    await db
      .insertInto('accounts')
      .values({ name: 'acme', created_at: '2026-01-01T00:00:00.000Z' })
      .execute();
    const { id } = await db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
    const record = {
      account_id: id,
      key: 'k-1',
      request_hash: 'ab'.repeat(32),
      state: 'done' as const,
      response_status: 200,
      response: 'sealed',
      created_at: '2026-01-01T00:00:00.000Z',
    };
    await db.insertInto('idempotency_keys').values(record).execute();

    expect((await migrator(handle, '9999').migrateToLatest()).error).toBeUndefined();
    expect(await db.selectFrom('idempotency_keys').selectAll().execute()).toEqual([
      { ...record, api_key_id: '' },
    ]);
    await db
      .insertInto('idempotency_keys')
      .values([
        { ...record, api_key_id: 'key_a' },
        { ...record, api_key_id: 'key_b' },
      ])
      .execute();
    await expect(
      db
        .insertInto('idempotency_keys')
        .values({ ...record, api_key_id: 'key_a' })
        .execute(),
    ).rejects.toThrow();
    expect(await db.selectFrom('hash_keys').selectAll().execute()).toEqual([]);

    // And back down.
    expect((await migrator(handle, '9999').migrateTo('0004-connectors-version')).error).toBeUndefined();
    const kept = await db.selectFrom('idempotency_keys').selectAll().execute();
    expect(kept).toEqual([record]);
  });
});
