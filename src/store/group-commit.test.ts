import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from './database.js';

let dir: string;
let handle: DatabaseHandle;
/** Another connection to the same file: what another process would see. */
let other: SqliteDatabase.Database;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plugboard-group-'));
  const path = join(dir, 'p.db');
  handle = openDatabase({ kind: 'sqlite', path });
  await sql`create table t (x integer unique)`.execute(handle.db);
  other = new SqliteDatabase(path, { readonly: true });
});
afterEach(async () => {
  other.close();
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

const transact = () => {
  if (!handle.transact) throw new Error('a SQLite handle groups its writes');
  return handle.transact;
};
const rows = () => (other.prepare('select x from t order by x').all() as { x: number }[]).map((r) => r.x);

describe('group commit (SQLite)', () => {
  it('commits concurrent writes in one transaction, answering each after the commit', async () => {
    const seen: number[] = [];
    const writes = [1, 2, 3, 4].map((x) =>
      transact()(async (trx) => {
        await sql`insert into t values (${x})`.execute(trx);
        // The writes before it in the group are visible to it: one transaction.
        const { rows: count } = await sql<{ n: number }>`select count(*) as n from t`.execute(trx);
        seen.push(count[0]?.n ?? -1);
        return x;
      }),
    );
    const answers = await Promise.all(
      writes.map((write) =>
        write.then((x) => {
          // Answered only once committed: another connection sees every write of the group.
          expect(rows()).toEqual([1, 2, 3, 4]);
          return x;
        }),
      ),
    );
    expect(answers).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('rolls back a failed write alone: the others of its group commit', async () => {
    await transact()(async (trx) => sql`insert into t values (2)`.execute(trx));
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map((x) => transact()(async (trx) => sql`insert into t values (${x})`.execute(trx))),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    const thrown = transact()(async (trx) => {
      await sql`insert into t values (7)`.execute(trx);
      throw new Error('refused by the caller');
    });
    const kept = transact()(async (trx) => sql`insert into t values (8)`.execute(trx));
    await expect(thrown).rejects.toThrow('refused by the caller');
    await kept;
    expect(rows()).toEqual([1, 2, 3, 8]);
  });

  it('keeps a group’s writes from other statements of the process until they are committed', async () => {
    let reads: number[] = [];
    let read: Promise<void> | undefined;
    await transact()(async (trx) => {
      await sql`insert into t values (5)`.execute(trx);
      // A read of the same process queued meanwhile waits for the commit: no dirty read.
      read = sql<{ x: number }>`select x from t`.execute(handle.db).then((r) => {
        reads = r.rows.map((row) => row.x);
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(reads).toEqual([]);
    });
    await read;
    expect(reads).toEqual([5]);
  });
});
