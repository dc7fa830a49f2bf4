import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTOCHECKPOINT_PAGES, startCheckpointer } from './checkpointer.js';

let dir: string;
let path: string;
let main: SqliteDatabase.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'plugboard-checkpoint-'));
  path = join(dir, 'c.db');
  main = new SqliteDatabase(path, { timeout: 0 });
  main.pragma('journal_mode = WAL');
  main.pragma('synchronous = FULL');
  main.exec('create table t (x text)');
});
afterEach(() => {
  if (main.open) main.close();
  rmSync(dir, { recursive: true, force: true });
});

const autocheckpoint = () => main.pragma('wal_autocheckpoint', { simple: true });
const until = async (done: () => boolean) => {
  const deadline = Date.now() + 5_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('not within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};
const start = (onError?: (error: unknown) => void) =>
  startCheckpointer(main, {
    path,
    module: createRequire(import.meta.url).resolve('better-sqlite3'),
    nativeBinding: undefined,
    synchronous: 'FULL',
    intervalMs: 20,
    ...(onError ? { onError } : {}),
  });

describe('the checkpoint thread', () => {
  it('takes the checkpoints off the main connection, copies the WAL back while it writes, and hands them back when closed', async () => {
    const checkpointer = start();
    await until(() => autocheckpoint() === 0);
    const insert = main.prepare('insert into t values (?)');
    const some = main.transaction(() => {
      for (let i = 0; i < 100; i++) insert.run('x'.repeat(2_000));
    });
    for (let i = 0; i < 20; i++) some();
    // The main connection checkpoints no more: only the thread copies the WAL into the database file.
    await until(() => statSync(path).size > 2_000 * 2_000);
    await checkpointer.close();
    expect(autocheckpoint()).toBe(AUTOCHECKPOINT_PAGES);
    expect(main.prepare('select count(*) as n from t').get()).toEqual({ n: 2_000 });
  });

  it('a thread that fails hands the checkpoints back and says so', async () => {
    const failures: unknown[] = [];
    const checkpointer = startCheckpointer(main, {
      path: join(dir, 'no-such-folder', 'c.db'),
      module: createRequire(import.meta.url).resolve('better-sqlite3'),
      nativeBinding: undefined,
      synchronous: 'FULL',
      onError: (error) => failures.push(error),
    });
    await until(() => failures.length > 0);
    // Never handed over: the main connection's own setting (SQLite's default here) is left as it was.
    expect(autocheckpoint()).toBe(1_000);
    await checkpointer.close();
  });
});
