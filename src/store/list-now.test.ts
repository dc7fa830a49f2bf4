import { createRequire } from 'node:module';
import type SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../secrets/keyring.js';
import { createSecretBox } from '../secrets/secret-box.js';
import { stampNow } from './compiled.js';
import { type ConnectorStore, createConnectorStore, type StoredConnector } from './connector-store.js';
import type { DatabaseHandle } from './database.js';
import { jiraParams, typeOf, useSqliteStore } from './fixture.js';

const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof SqliteDatabase;

let path: string;
let handle: DatabaseHandle;
let store: ConnectorStore;
let box: ReturnType<typeof createSecretBox>;
let accountId: number;
const actor = { keyId: 'key_test', keyLabel: 'test' };
const jira = typeOf('jira');

useSqliteStore('list-now', async (fixture) => {
  ({ path, handle, accountId } = fixture);
  box = createSecretBox(ephemeralKeyring());
  store = createConnectorStore(handle.db, box, undefined, handle.transact);
  for (let n = 0; n < 3; n++)
    await store.create(accountId, actor, { type: jira, name: `c${n}`, params: jiraParams(n) });
});

const names = (page: readonly StoredConnector[] | null) => page?.map((connector) => connector.name);
/** The first page read until its connectors are kept (from their second read on, connector-row.ts). */
function keptFirstPage(): readonly StoredConnector[] {
  store.listNow(accountId, 0, 50);
  store.listNow(accountId, 0, 50);
  const page = store.listNow(accountId, 0, 50);
  if (!page) throw new Error('listNow could not read');
  expect(store.listNow(accountId, 0, 50)).toBe(page);
  return page;
}

describe("listNow keeps a page while the database's stamp stays", () => {
  it('gives the same frozen array while nothing is written, and another page its own', () => {
    const page = keptFirstPage();
    expect(Object.isFrozen(page)).toBe(true);
    expect(names(page)).toEqual(['c0', 'c1', 'c2']);
    expect(names(store.listNow(accountId, 1, 50))).toEqual(['c1', 'c2']);
    expect(store.listNow(accountId, 0, 50)).toBe(page);
  });

  it("sees this server's create, update, delete and check result at once", async () => {
    keptFirstPage();
    const created = await store.create(accountId, actor, { type: jira, name: 'c3', params: jiraParams(3) });
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'c2', 'c3']);

    keptFirstPage();
    await store.update(accountId, actor, created.id, () => ({ name: 'renamed', params: jiraParams(3) }));
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'c2', 'renamed']);

    const page = keptFirstPage();
    const [first] = page;
    if (!first) throw new Error('no connector');
    const result = {
      ok: true,
      status: 'ok',
      message: 'fine',
      latencyMs: 1,
      checkedAt: first.updatedAt,
    } as const;
    expect(await store.recordCheck(accountId, first.id, first, result)).toBe(true);
    expect(store.listNow(accountId, 0, 50)?.[0]?.lastCheck).toEqual(result);

    keptFirstPage();
    expect(await store.delete(accountId, actor, created.id)).toBe(true);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'c2']);
  });

  it("sees another process's commit (another connection to the file)", () => {
    keptFirstPage();
    const other = new Sqlite(path);
    try {
      other
        .prepare("update connectors set name = 'theirs', updated_at = ? where name = 'c1'")
        .run(new Date().toISOString());
      expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'theirs', 'c2']);
      keptFirstPage();
      other.prepare("delete from connectors where name = 'c0'").run();
      other.prepare('update accounts set connectors_version = connectors_version + 1').run();
      expect(names(store.listNow(accountId, 0, 50))).toEqual(['theirs', 'c2']);
    } finally {
      other.close();
    }
  });

  it('reads nothing at once (null) while a transaction is open on the connection, and has no stamp then', async () => {
    keptFirstPage();
    expect(stampNow(handle.db)).toBeDefined();
    await handle.db.transaction().execute(async (trx) => {
      await trx.updateTable('connectors').set({ name: 'uncommitted' }).where('name', '=', 'c2').execute();
      expect(stampNow(handle.db)).toBeUndefined();
      expect(store.listNow(accountId, 0, 50)).toBeNull();
    });
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'uncommitted']);
  });

  it('the stamp moves with every write of this connection, rolled back ones included, and stays otherwise', async () => {
    const before = stampNow(handle.db);
    expect(stampNow(handle.db)).toBe(before);
    await store.list(accountId, 0, 50);
    expect(stampNow(handle.db)).toBe(before);
    await expect(
      handle.db.transaction().execute(async (trx) => {
        await trx.updateTable('connectors').set({ name: 'never' }).where('name', '=', 'c2').execute();
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const after = stampNow(handle.db);
    expect(after).not.toBe(before);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'c2']);
  });
});

describe('readAheadNow keeps a page for the first listNow of it', () => {
  it('gives the page read ahead once, while nothing is written, then reads again', () => {
    // A server that never read these rows (a walk's): each is read once, not frozen, not kept.
    const walker = createConnectorStore(handle.db, box, undefined, handle.transact);
    const ahead = walker.readAheadNow?.(accountId, 1, 2);
    expect(names(ahead ?? null)).toEqual(['c1', 'c2']);
    expect(ahead?.some((connector) => Object.isFrozen(connector))).toBe(false);
    expect(walker.readAheadNow?.(accountId, 1, 2)).toBe(ahead);
    expect(walker.listNow(accountId, 1, 2)).toBe(ahead);
    const again = walker.listNow(accountId, 1, 2);
    expect(again).not.toBe(ahead);
    expect(names(again)).toEqual(['c1', 'c2']);
  });

  it('reads again when anything was written after the page was read ahead', async () => {
    const ahead = store.readAheadNow?.(accountId, 0, 50);
    const [first] = ahead ?? [];
    if (!first) throw new Error('no connector');
    await store.update(accountId, actor, first.id, () => ({ name: 'renamed', params: jiraParams(0) }));
    const page = store.listNow(accountId, 0, 50);
    expect(page).not.toBe(ahead);
    expect(names(page)).toEqual(['renamed', 'c1', 'c2']);
  });

  it("reads again after another process's commit", () => {
    const ahead = store.readAheadNow?.(accountId, 0, 50);
    const other = new Sqlite(path);
    try {
      other
        .prepare("update connectors set name = 'theirs', updated_at = ? where name = 'c1'")
        .run(new Date().toISOString());
    } finally {
      other.close();
    }
    const page = store.listNow(accountId, 0, 50);
    expect(page).not.toBe(ahead);
    expect(names(page)).toEqual(['c0', 'theirs', 'c2']);
  });

  it('reads nothing ahead (null) while a transaction is open on the connection', async () => {
    await handle.db.transaction().execute(async (trx) => {
      await trx.updateTable('connectors').set({ name: 'uncommitted' }).where('name', '=', 'c2').execute();
      expect(store.readAheadNow?.(accountId, 0, 50)).toBeNull();
    });
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'uncommitted']);
  });

  it('gives a page kept already rather than reading it again', () => {
    const page = keptFirstPage();
    expect(store.readAheadNow?.(accountId, 0, 50)).toBe(page);
    expect(store.listNow(accountId, 0, 50)).toBe(page);
  });
});

describe("getNow keeps a connector while the database's stamp stays", () => {
  /** c1 read until it is kept (from its second read on, connector-row.ts). */
  function keptOne(): StoredConnector {
    const id = store.listNow(accountId, 1, 1)?.[0]?.id;
    if (!id) throw new Error('no connector');
    store.getNow(accountId, id);
    store.getNow(accountId, id);
    const one = store.getNow(accountId, id);
    if (!one) throw new Error('getNow could not read');
    expect(store.getNow(accountId, id)).toBe(one);
    return one;
  }

  it("sees this server's update and delete, and another process's commit, at once", async () => {
    let one = keptOne();
    expect(one.name).toBe('c1');
    await store.update(accountId, actor, one.id, () => ({ name: 'renamed', params: jiraParams(1) }));
    expect(store.getNow(accountId, one.id)?.name).toBe('renamed');

    one = keptOne();
    const other = new Sqlite(path);
    try {
      other.prepare("update connectors set name = 'theirs' where id = ?").run(one.id);
      expect(store.getNow(accountId, one.id)?.name).toBe('theirs');
    } finally {
      other.close();
    }

    one = keptOne();
    expect(store.getNow(accountId + 1, one.id)).toBeUndefined();
    expect(await store.delete(accountId, actor, one.id)).toBe(true);
    expect(store.getNow(accountId, one.id)).toBeUndefined();
  });
});
