import { createRequire } from 'node:module';
import type SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../secrets/keyring.js';
import { createSecretBox } from '../secrets/secret-box.js';
import { stampNow } from './compiled.js';
import {
  type ConnectorStore,
  createConnectorStore,
  KeptOnes,
  type StoredConnector,
} from './connector-store.js';
import { type DatabaseHandle, migrateToLatest } from './database.js';
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

  it("the stamp stays across this connection's own writes, whose changes of a page's rows drop it, rolled back ones included", async () => {
    const before = stampNow(handle.db);
    expect(stampNow(handle.db)).toBe(before);
    await store.list(accountId, 0, 50);
    expect(stampNow(handle.db)).toBe(before);
    const page = keptFirstPage();
    await expect(
      handle.db.transaction().execute(async (trx) => {
        await trx.updateTable('connectors').set({ name: 'never' }).where('name', '=', 'c2').execute();
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(stampNow(handle.db)).toBe(before);
    const again = store.listNow(accountId, 0, 50);
    expect(again).not.toBe(page);
    expect(names(again)).toEqual(['c0', 'c1', 'c2']);
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

  it('keeps a connector from its first read (frozen), and answers the next from what it kept', () => {
    const id = store.listNow(accountId, 2, 1)?.[0]?.id;
    if (!id) throw new Error('no connector');
    // A fresh store: nothing of this connector was read before by its codec.
    const fresh = createConnectorStore(handle.db, box, undefined, handle.transact);
    const first = fresh.getNow(accountId, id);
    if (!first) throw new Error('getNow could not read');
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.name).toBe('c2');
    expect(fresh.getNow(accountId, id)).toBe(first);
  });

  it("sees another process's commit made between two reads (the row and its stamp are one snapshot)", () => {
    const one = keptOne();
    const other = new Sqlite(path);
    try {
      other.prepare("update connectors set name = 'theirs 1' where id = ?").run(one.id);
      const read = store.getNow(accountId, one.id);
      expect(read?.name).toBe('theirs 1');
      other.prepare("update connectors set name = 'theirs 2' where id = ?").run(one.id);
      expect(store.getNow(accountId, one.id)?.name).toBe('theirs 2');
      expect(store.getNow(accountId, one.id)?.name).toBe('theirs 2');
    } finally {
      other.close();
    }
  });

  it('reads nothing at once (null) while a transaction is open on the connection', async () => {
    const one = keptOne();
    await handle.db.transaction().execute(async () => {
      expect(store.getNow(accountId, one.id)).toBeNull();
      expect(store.getNow(accountId, 'AbCdEfGhIjKlMnOpQrStUv')).toBeNull();
    });
    expect(store.getNow(accountId, one.id)).toBe(one);
  });

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

describe("what this connection's own writes drop: exactly what they could change", () => {
  /** A page read until it is kept (its connectors frozen, connector-row.ts), and checked kept. */
  function kept(account: number, offset: number, limit: number): readonly StoredConnector[] {
    store.listNow(account, offset, limit);
    store.listNow(account, offset, limit);
    const page = store.listNow(account, offset, limit);
    if (!page) throw new Error('listNow could not read');
    expect(store.listNow(account, offset, limit)).toBe(page);
    return page;
  }
  /** A connector read until it is kept, and checked kept. */
  function keptOne(account: number, id: string): StoredConnector {
    store.getNow(account, id);
    const one = store.getNow(account, id);
    if (!one) throw new Error('getNow could not read');
    expect(store.getNow(account, id)).toBe(one);
    return one;
  }
  async function otherAccount(): Promise<number> {
    const { id } = await handle.db
      .insertInto('accounts')
      .values({ name: 'globex', created_at: new Date().toISOString() })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let n = 0; n < 2; n++)
      await store.create(id, actor, { type: jira, name: `g${n}`, params: jiraParams(n) });
    return id;
  }

  it("keeps another account's pages and connectors across a create, an update and a delete", async () => {
    const globex = await otherAccount();
    const theirs = kept(globex, 0, 50);
    const [g0] = theirs;
    if (!g0) throw new Error('no connector');
    const theirOne = keptOne(globex, g0.id);
    const created = await store.create(accountId, actor, { type: jira, name: 'c3', params: jiraParams(3) });
    await store.update(accountId, actor, created.id, () => ({ name: 'renamed', params: jiraParams(3) }));
    expect(await store.delete(accountId, actor, created.id)).toBe(true);
    expect(store.listNow(globex, 0, 50)).toBe(theirs);
    expect(store.getNow(globex, g0.id)).toBe(theirOne);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'c2']);
  });

  it('an update of a connector drops the pages holding it and the connector, and keeps the others', async () => {
    const page = kept(accountId, 0, 50);
    const [c0, c1, c2] = page;
    if (!c0 || !c1 || !c2) throw new Error('no connector');
    const first = kept(accountId, 0, 1);
    const second = kept(accountId, 1, 1);
    const one0 = keptOne(accountId, c0.id);
    const one2 = keptOne(accountId, c2.id);
    await store.update(accountId, actor, c1.id, () => ({ name: 'renamed', params: jiraParams(1) }));
    // Before it, full: no place on it moved.
    expect(store.listNow(accountId, 0, 1)).toBe(first);
    expect(store.getNow(accountId, c0.id)).toBe(one0);
    expect(store.getNow(accountId, c2.id)).toBe(one2);
    expect(store.listNow(accountId, 1, 1)).not.toBe(second);
    expect(names(store.listNow(accountId, 1, 1))).toEqual(['renamed']);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'renamed', 'c2']);
    expect(store.getNow(accountId, c1.id)?.name).toBe('renamed');
  });

  it("a create keeps the account's full pages (the row comes after them) and drops the page at the end", async () => {
    const full = kept(accountId, 0, 2);
    const end = kept(accountId, 2, 2);
    const all = kept(accountId, 0, 50);
    await store.create(accountId, actor, { type: jira, name: 'c3', params: jiraParams(3) });
    expect(store.listNow(accountId, 0, 2)).toBe(full);
    expect(store.listNow(accountId, 2, 2)).not.toBe(end);
    expect(names(store.listNow(accountId, 2, 2))).toEqual(['c2', 'c3']);
    expect(store.listNow(accountId, 0, 50)).not.toBe(all);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'c2', 'c3']);
  });

  it('a delete drops the pages at or after it, and a check result the pages holding its connector', async () => {
    const page = kept(accountId, 0, 50);
    const [c0, c1] = page;
    if (!c0 || !c1) throw new Error('no connector');
    const first = kept(accountId, 0, 1);
    const rest = kept(accountId, 1, 2);
    expect(await store.delete(accountId, actor, c1.id)).toBe(true);
    expect(store.listNow(accountId, 0, 1)).toBe(first);
    expect(store.listNow(accountId, 1, 2)).not.toBe(rest);
    expect(names(store.listNow(accountId, 1, 2))).toEqual(['c2']);
    expect(store.getNow(accountId, c1.id)).toBeUndefined();

    kept(accountId, 0, 50);
    const result = {
      ok: true,
      status: 'ok',
      message: 'fine',
      latencyMs: 1,
      checkedAt: c0.updatedAt,
    } as const;
    expect(await store.recordCheck(accountId, c0.id, c0, result)).toBe(true);
    expect(store.listNow(accountId, 0, 50)?.[0]?.lastCheck).toEqual(result);
  });

  it("keeps everything across this connection's writes to other tables", async () => {
    const page = kept(accountId, 0, 50);
    const [c0] = page;
    if (!c0) throw new Error('no connector');
    const one = keptOne(accountId, c0.id);
    await handle.db
      .insertInto('accounts')
      .values({ name: 'initech', created_at: new Date().toISOString() })
      .execute();
    await handle.db
      .updateTable('accounts')
      .set({ connectors_version: 41 })
      .where('name', '=', 'initech')
      .execute();
    expect(store.listNow(accountId, 0, 50)).toBe(page);
    expect(store.getNow(accountId, c0.id)).toBe(one);
  });

  it('sees a write of any statement on the connection, a REPLACE and a change of account included', async () => {
    const page = kept(accountId, 0, 50);
    const [, c1] = page;
    if (!c1) throw new Error('no connector');
    keptOne(accountId, c1.id);
    // Raw SQL on the store's own connection (not the store's code): a REPLACE of c1 by itself,
    // renamed, with a new seq (the end of the list); the REPLACE deletes the row in its way.
    await sql`insert or replace into connectors (id, account_id, type, name, params, secrets, secret_key_id, created_at, updated_at)
      select id, account_id, type, 'replaced', params, secrets, secret_key_id, created_at, updated_at
      from connectors where id = ${c1.id}`.execute(handle.db);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c2', 'replaced']);
    expect(store.getNow(accountId, c1.id)?.name).toBe('replaced');

    const globex = await otherAccount();
    const theirs = kept(globex, 0, 50);
    kept(accountId, 0, 50);
    await sql`update connectors set account_id = ${globex} where name = 'c2'`.execute(handle.db);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'replaced']);
    expect(store.listNow(globex, 0, 50)).not.toBe(theirs);
    expect(names(store.listNow(globex, 0, 50))).toEqual(['c2', 'g0', 'g1']);
  });

  it('sees changes after a migration made the connectors table again (its triggers go with it)', async () => {
    const before = kept(accountId, 0, 50);
    // A migration's rebuild of the table, on this connection (migrateToLatest says so after migrating,
    // whether or not one was due): the stamp moves, the triggers are made again.
    await sql`create table connectors_new as select * from connectors`.execute(handle.db);
    await sql`drop table connectors`.execute(handle.db);
    await sql`alter table connectors_new rename to connectors`.execute(handle.db);
    await migrateToLatest(handle);
    expect(store.listNow(accountId, 0, 50)).not.toBe(before);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['c0', 'c1', 'c2']);
    const page = kept(accountId, 0, 50);
    await sql`update connectors set name = 'after' where name = 'c0'`.execute(handle.db);
    expect(store.listNow(accountId, 0, 50)).not.toBe(page);
    expect(names(store.listNow(accountId, 0, 50))).toEqual(['after', 'c1', 'c2']);
  });

  it("sees another process's commit to another table too (its writes are not reported)", () => {
    const page = kept(accountId, 0, 50);
    const other = new Sqlite(path);
    try {
      other
        .prepare("insert into accounts (name, created_at) values ('hooli', '2026-01-01T00:00:00.000Z')")
        .run();
    } finally {
      other.close();
    }
    const again = store.listNow(accountId, 0, 50);
    expect(again).not.toBe(page);
    expect(names(again)).toEqual(['c0', 'c1', 'c2']);
  });
});

describe('listNow reads rows as list does (one packed text per row on SQLite)', () => {
  it('gives the same connectors as list, whatever their nullable columns and names hold', async () => {
    const odd = await store.create(accountId, actor, {
      type: jira,
      name: 'naïve 名前 🚀 "quoted" \\ back',
      params: jiraParams(7),
    });
    const [c0, c1] = await store.list(accountId, 0, 2);
    if (!c0 || !c1) throw new Error('the fixture has three connectors');
    // What the API cannot write, rows from elsewhere might hold: no secrets, a check, a NUL in a name.
    await sql`update connectors set secrets = null, secret_key_id = null where id = ${c1.id}`.execute(
      handle.db,
    );
    await sql`update connectors set last_check = ${'{"ok":true,"at":"2026-01-01T00:00:00.000Z"}'} where id = ${odd.id}`.execute(
      handle.db,
    );
    await sql`update connectors set name = ${'a'} || char(0) || ${'b'} where id = ${c0.id}`.execute(
      handle.db,
    );
    const expected = await store.list(accountId, 0, 50);
    expect(expected.map((connector) => connector.name)).toEqual(['a\u0000b', 'c1', 'c2', odd.name]);
    expect(store.listNow(accountId, 0, 50)).toEqual(expected);
    // From the anchor the first page left (the seq of its last row), as list reads it.
    expect(store.listNow(accountId, 0, 2)).toEqual(expected.slice(0, 2));
    expect(store.listNow(accountId, 2, 50)).toEqual(await store.list(accountId, 2, 50));
  });

  it('refuses a packed row with too few fields', async () => {
    const { unpackConnectorRow } = await import('./connector-store.js');
    expect(() => unpackConnectorRow('1\u0000id\u0000jira', accountId)).toThrow(/fewer than 10 fields/);
  });
});

describe('what getNow keeps is bounded in number and in bytes (KeptOnes)', () => {
  it('drops everything when one more would pass either bound, and counts replaced and deleted ones', () => {
    const kept = new KeptOnes<string>(3, 1000);
    kept.set('a', 'A', 400);
    kept.set('b', 'B', 400);
    expect([kept.size, kept.bytes]).toEqual([2, 800]);
    // Replacing one counts its new size, not both.
    kept.set('b', 'B2', 300);
    expect([kept.size, kept.bytes, kept.get('b')]).toEqual([2, 700, 'B2']);
    // Past the bytes: all dropped, the new one kept.
    kept.set('c', 'C', 400);
    expect([kept.size, kept.bytes, kept.get('a'), kept.get('c')]).toEqual([1, 400, undefined, 'C']);
    kept.delete('c');
    expect([kept.size, kept.bytes]).toEqual([0, 0]);
    // Past the number.
    for (const place of ['x', 'y', 'z', 'w']) kept.set(place, place, 1);
    expect([kept.size, kept.get('x'), kept.get('w')]).toEqual([1, undefined, 'w']);
  });
});
