import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from './database.js';
import { isDatabaseUnavailable } from './errors.js';

let handle: DatabaseHandle | undefined;
afterEach(async () => {
  await handle?.close();
  handle = undefined;
});

describe('transactions', () => {
  it('keeps the original error when SQLite has already rolled the transaction back itself', async () => {
    handle = openDatabase({ kind: 'sqlite', path: ':memory:' });
    // After SQLITE_FULL or SQLITE_IOERR, SQLite may end the transaction on its own; the ROLLBACK
    // that follows failed with "no transaction is active" and turned a 503 into a 500.
    const diskFull = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const failing = handle.db.transaction().execute(async (trx) => {
      await sql`rollback`.execute(trx);
      throw diskFull;
    });
    await expect(failing).rejects.toBe(diskFull);
    expect(isDatabaseUnavailable(diskFull)).toBe(true);
    // And the connection is usable afterwards.
    await handle.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
    });
    await handle.ping();
  });

  it('still rolls back an open transaction', async () => {
    handle = openDatabase({ kind: 'sqlite', path: ':memory:' });
    await sql`create table t (x integer)`.execute(handle.db);
    await expect(
      handle.db.transaction().execute(async (trx) => {
        await sql`insert into t values (1)`.execute(trx);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    const { rows } = await sql<{ n: number }>`select count(*) as n from t`.execute(handle.db);
    expect(rows[0]?.n).toBe(0);
  });
});
