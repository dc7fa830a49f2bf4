import { afterAll, describe, expect, it } from 'vitest';
import { generateMasterKey } from '../src/secrets/cipher.js';
import { KEYED_PREFIX } from '../src/secrets/hash-key.js';
import { ephemeralKeyring } from '../src/secrets/keyring.js';
import { createSecretBox } from '../src/secrets/secret-box.js';
import { createConnectorStore } from '../src/store/connector-store.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../src/store/database.js';
import { jiraParams, typeOf } from '../src/store/fixture.js';
import { IDEMPOTENCY_TTL_MS } from '../src/store/idempotency-store.js';
import { openHashing } from '../src/store/sealed/hash-key.js';
import { readStoredKeys } from '../src/store/sealed/rows.js';
import { readStartState } from '../src/store/sealed/start-reads.js';
import { dropPostgresSchema, newPostgresLocation } from './backend.js';

const actor = { keyId: 'key_test', keyLabel: 'test' };

/**
 * The start's one statement (serve, on PostgreSQL) must read what the checks read one by one:
 * readStoredKeys, a sample per connector key id, and the rows upgradeStoredHashes starts from.
 */
describe('readStartState (PostgreSQL)', () => {
  const schemas: string[] = [];
  const handles: DatabaseHandle[] = [];
  afterAll(async () => {
    for (const handle of handles) await handle.close();
    for (const schema of schemas) await dropPostgresSchema(schema);
  });

  async function migrated(): Promise<DatabaseHandle> {
    const location = await newPostgresLocation();
    if (location.schema) schemas.push(location.schema);
    const handle = openDatabase(location);
    handles.push(handle);
    await migrateToLatest(handle);
    return handle;
  }

  /** What the checks read one query at a time. */
  async function oneByOne(handle: DatabaseHandle) {
    const { db } = handle;
    const stored = await readStoredKeys(db);
    const samples = new Map<string, unknown>();
    for (const keyId of stored.connectorKeyIds) {
      const rows = await db
        .selectFrom('connectors')
        .select(['id', 'type', 'secrets'])
        .where('secret_key_id', '=', keyId)
        .execute();
      samples.set(keyId, rows);
    }
    const unkeyedApiKeys = await db
      .selectFrom('api_keys')
      .select(['id', 'key_hash'])
      .where('key_hash', 'not like', `${KEYED_PREFIX}%`)
      .orderBy('id')
      .execute();
    const unkeyedRecords = await db
      .selectFrom('idempotency_keys')
      .select(['account_id', 'api_key_id', 'key', 'request_hash'])
      .where('request_hash', 'not like', `${KEYED_PREFIX}%`)
      .orderBy('key')
      .execute();
    const unownedRecords = await db
      .selectFrom('idempotency_keys')
      .select(['account_id', 'key', 'response'])
      .where('api_key_id', '=', '')
      .orderBy('key')
      .execute();
    return { stored, samples, upgrade: { unkeyedApiKeys, unkeyedRecords, unownedRecords } };
  }

  async function expectSame(handle: DatabaseHandle) {
    const expected = await oneByOne(handle);
    const read = await readStartState(handle.db);
    expect(read.stored).toEqual(expected.stored);
    expect([...read.samples.keys()]).toEqual(expected.stored.connectorKeyIds);
    for (const [keyId, sample] of read.samples) {
      // Any connector sealed with the key id will do (verifyKeyring's query takes the first found).
      expect(expected.samples.get(keyId)).toContainEqual(sample);
    }
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
    const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : 1);
    expect([...read.upgrade.unkeyedApiKeys].sort(byId)).toEqual(expected.upgrade.unkeyedApiKeys);
    expect([...read.upgrade.unkeyedRecords].sort(byKey)).toEqual(expected.upgrade.unkeyedRecords);
    expect([...read.upgrade.unownedRecords].sort(byKey)).toEqual(expected.upgrade.unownedRecords);
    return read;
  }

  it('reads an empty database as the checks do', async () => {
    const handle = await migrated();
    const read = await expectSame(handle);
    expect(read.stored).toEqual({ connectorKeyIds: [], inUse: [], hashKey: undefined });
  });

  it('reads key ids, samples, live records and unkeyed or unowned rows as the checks do', async () => {
    const handle = await migrated();
    const { db } = handle;
    const [first, second, third] = [generateMasterKey(), generateMasterKey(), generateMasterKey()];
    const account = await db
      .insertInto('accounts')
      .values({ name: 'acme', created_at: new Date().toISOString() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const jira = typeOf('jira');
    // Connectors under two master keys, the hash key under a third.
    for (const [key, names] of [
      [first, ['a1', 'a2', 'a3']],
      [second, ['b1']],
    ] as const) {
      const store = createConnectorStore(db, createSecretBox(ephemeralKeyring([key])));
      for (const [n, name] of names.entries()) {
        await store.create(account.id, actor, { type: jira, name, params: jiraParams(n) });
      }
    }
    await openHashing(db, ephemeralKeyring([third]));
    const now = Date.now();
    const record = (key: string, values: Record<string, unknown>) => ({
      account_id: account.id,
      key,
      request_hash: `${KEYED_PREFIX}x`,
      state: 'done' as const,
      response_status: 201,
      response: `${second.id}|sealed`,
      created_at: new Date(now).toISOString(),
      api_key_id: 'key_1',
      ...values,
    });
    await db
      .insertInto('idempotency_keys')
      .values([
        record('live', {}),
        record('other-key', { response: `${third.id}|sealed` }),
        record('expired', {
          response: 'ffffffffffffffff|sealed',
          created_at: new Date(now - IDEMPOTENCY_TTL_MS - 60_000).toISOString(),
        }),
        record('running', { state: 'running', response: null, response_status: null }),
        record('unkeyed', { request_hash: 'ab'.repeat(32) }),
        record('unowned', { api_key_id: '' }),
        record('unowned-null', { api_key_id: '', response: null, state: 'running', response_status: null }),
      ])
      .execute();
    await db
      .insertInto('api_keys')
      .values([
        {
          id: 'key_1',
          account_id: account.id,
          role: 'write',
          label: 'keyed',
          key_hash: `${KEYED_PREFIX}1`,
          created_at: new Date().toISOString(),
        },
        {
          id: 'key_2',
          account_id: account.id,
          role: 'read',
          label: 'unkeyed',
          key_hash: 'cd'.repeat(32),
          created_at: new Date().toISOString(),
        },
      ])
      .execute();
    const read = await expectSame(handle);
    expect(read.stored.connectorKeyIds).toEqual([first.id, second.id].sort());
    expect(read.stored.inUse).toEqual([first.id, second.id, third.id].sort());
    expect(read.upgrade.unkeyedApiKeys).toEqual([{ id: 'key_2', key_hash: 'cd'.repeat(32) }]);
    expect(read.upgrade.unkeyedRecords.map((row) => row.key)).toEqual(['unkeyed']);
    expect(read.upgrade.unownedRecords.map((row) => row.key).sort()).toEqual(['unowned', 'unowned-null']);
  });
});
