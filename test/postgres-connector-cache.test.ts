/**
 * Two PostgreSQL stores on one schema (two servers on one database): what one keeps of the
 * connectors it read (connector-cache.ts), answered at once by getNow, is dropped when the other
 * writes, once PostgreSQL's notice of the commit arrives (migration 0008, connector-changes.ts);
 * its own writes drop it before they answer; a lost listening connection drops everything.
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectorTypes, type RegisteredType } from '../src/connectors/registry.js';
import { ephemeralKeyring } from '../src/secrets/keyring.js';
import { createSecretBox } from '../src/secrets/secret-box.js';
import {
  type ConnectorStore,
  createConnectorStore,
  type StoredConnector,
} from '../src/store/connector-store.js';
import { openTestDatabase, type TestDatabase } from './backend.js';
import { waitFor } from './process-helpers.js';

const actor = { keyId: 'key_test', keyLabel: 'test' };
const jira = connectorTypes.find((type) => type.id === 'jira') as RegisteredType;
const params = (n: number) => ({
  url: `https://jira-${n}.example.com`,
  email: `bot-${n}@example.com`,
  password: `secret-${n}`,
});

let first: TestDatabase;
let second: TestDatabase;
let a: ConnectorStore;
let b: ConnectorStore;
let accountId: number;
let otherAccountId: number;
let box: ReturnType<typeof createSecretBox>;

beforeEach(async () => {
  first = await openTestDatabase();
  second = await openTestDatabase({ sameAs: first.handle.location });
  box = createSecretBox(ephemeralKeyring());
  const storeOf = ({ handle }: TestDatabase) =>
    createConnectorStore(handle.db, box, undefined, handle.transact, handle.connectorChanges);
  a = storeOf(first);
  b = storeOf(second);
  const account = (name: string) =>
    first.handle.db
      .insertInto('accounts')
      .values({ name, created_at: new Date().toISOString() })
      .returning('id')
      .executeTakeFirstOrThrow();
  accountId = (await account('acme')).id;
  otherAccountId = (await account('globex')).id;
});
afterEach(async () => {
  await second.dispose();
  await first.dispose();
});

/** Reads through `get` until `store` keeps the connector (its LISTEN is up), and returns it. */
async function kept(store: ConnectorStore, id: string): Promise<StoredConnector> {
  return waitFor(
    `connector ${id} to be kept`,
    async () => {
      await store.get(accountId, id);
      return store.getNow(accountId, id) ?? undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
}

/** Waits until `store` no longer answers the connector at once (the other store's notice arrived). */
async function dropped(store: ConnectorStore, id: string): Promise<void> {
  await waitFor(
    'the notice of the change',
    async () => (store.getNow(accountId, id) === null ? true : undefined),
    {
      timeoutMs: 5_000,
      intervalMs: 1,
    },
  );
}

describe('connectors kept by a PostgreSQL store', () => {
  it('are answered at once, in their own account only, and dropped by the other store’s update once its notice arrives', async () => {
    const created = await a.create(accountId, actor, { type: jira, name: 'one', params: params(1) });
    const before = await kept(b, created.id);
    expect(before.name).toBe('one');
    expect(b.getNow(otherAccountId, created.id)).toBeNull();
    expect(await b.get(otherAccountId, created.id)).toBeUndefined();

    const updated = await a.update(accountId, actor, created.id, () => ({ name: 'two', params: params(2) }));
    await dropped(b, created.id);
    expect((await b.get(accountId, created.id))?.name).toBe('two');
    expect((await kept(b, created.id)).updatedAt).toBe(updated?.updatedAt);
  });

  it('never answer a connector deleted by the other store once its notice arrived', async () => {
    const created = await a.create(accountId, actor, { type: jira, name: 'gone', params: params(3) });
    await kept(b, created.id);
    expect(await a.delete(accountId, actor, created.id)).toBe(true);
    await dropped(b, created.id);
    for (let i = 0; i < 20; i++) {
      expect(await b.get(accountId, created.id)).toBeUndefined();
      expect(b.getNow(accountId, created.id)).toBeNull();
    }
  });

  it('are dropped by the store’s own writes before they answer', async () => {
    const created = await a.create(accountId, actor, { type: jira, name: 'own', params: params(4) });
    await kept(a, created.id);
    await a.update(accountId, actor, created.id, () => ({ name: 'own 2', params: params(4) }));
    expect(a.getNow(accountId, created.id)).toBeNull();
    await kept(a, created.id);
    await a.recordCheck(accountId, created.id, await kept(a, created.id), {
      ok: true,
      status: 'ok',
      message: 'fine',
      latencyMs: 1,
      checkedAt: new Date().toISOString(),
    });
    expect(a.getNow(accountId, created.id)).toBeNull();
    expect((await kept(a, created.id)).lastCheck).toMatchObject({ ok: true });
    await a.delete(accountId, actor, created.id);
    expect(a.getNow(accountId, created.id)).toBeNull();
  });

  it('are dropped by a change made outside any store (SQL), and all of them when the table is truncated', async () => {
    const one = await a.create(accountId, actor, { type: jira, name: 'sql 1', params: params(5) });
    const two = await a.create(accountId, actor, { type: jira, name: 'sql 2', params: params(6) });
    await kept(b, one.id);
    await kept(b, two.id);
    await sql`update connectors set name = 'by hand' where id = ${one.id}`.execute(first.handle.db);
    await dropped(b, one.id);
    expect(b.getNow(accountId, two.id)).not.toBeNull();
    expect((await b.get(accountId, one.id))?.name).toBe('by hand');
    await sql`truncate connectors cascade`.execute(first.handle.db);
    await dropped(b, two.id);
  });

  it('are all dropped when the listening connection dies, and kept again once it is back', async () => {
    const created = await a.create(accountId, actor, { type: jira, name: 'listen', params: params(7) });
    await kept(b, created.id);
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
              where datname = current_database() and query = 'listen plugboard_connectors'
              and pid <> pg_backend_pid()`.execute(first.handle.db);
    await dropped(b, created.id);
    // Back within the retry (1 s); a change made meanwhile is read afresh.
    await a.update(accountId, actor, created.id, () => ({ name: 'listen 2', params: params(7) }));
    expect((await kept(b, created.id)).name).toBe('listen 2');
  });

  it('cost one query for many reads of one connector at once, and a read after a write reads afresh', async () => {
    const created = await a.create(accountId, actor, { type: jira, name: 'herd', params: params(8) });
    let queries = 0;
    const counted = second.handle.db.withPlugin({
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        queries++;
        return args.result;
      },
    });
    const c = createConnectorStore(
      counted,
      box,
      undefined,
      second.handle.transact,
      second.handle.connectorChanges,
    );
    // Listening first (a store's first read starts it; what it reads meanwhile is not kept).
    second.handle.connectorChanges?.start();
    await waitFor(
      'the listening connection',
      async () => (second.handle.connectorChanges?.listening ? true : undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 20,
      },
    );
    queries = 0;
    const reads = await Promise.all(Array.from({ length: 20 }, () => c.get(accountId, created.id)));
    expect(reads.map((read) => read?.name)).toEqual(Array(20).fill('herd'));
    expect(queries).toBe(1);
    expect(c.getNow(accountId, created.id)?.name).toBe('herd');
    // Another account's read of the id shares nothing (and finds nothing).
    expect(await c.get(otherAccountId, created.id)).toBeUndefined();
    expect(queries).toBe(2);

    await a.update(accountId, actor, created.id, () => ({ name: 'herd 2', params: params(8) }));
    await dropped(c, created.id);
    queries = 0;
    const after = await Promise.all(Array.from({ length: 20 }, () => c.get(accountId, created.id)));
    expect(after.map((read) => read?.name)).toEqual(Array(20).fill('herd 2'));
    expect(queries).toBe(1);
  });
});
