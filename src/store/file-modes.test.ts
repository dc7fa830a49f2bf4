import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import type { FileModeNotice } from './file-modes.js';

const mode = (path: string) => statSync(path).mode & 0o777;

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'plugboard-modes-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Opens the database, makes SQLite write (so that -wal and -shm exist), and reports what it was told. */
async function openAndWrite(
  path: string,
): Promise<{ notices: FileModeNotice[]; modes: Record<string, number> }> {
  const notices: FileModeNotice[] = [];
  const handle = openDatabase({ kind: 'sqlite', path }, { onFileModes: (notice) => notices.push(notice) });
  try {
    await sql`create table if not exists t (x integer)`.execute(handle.db);
    await sql`insert into t values (1)`.execute(handle.db);
    const modes = Object.fromEntries(
      ['', '-wal', '-shm'].map((suffix) => [suffix || 'db', mode(`${path}${suffix}`)]),
    );
    return { notices, modes };
  } finally {
    await handle.close();
  }
}

describe('the SQLite database files', () => {
  it('are created 0600 (the database, -wal and -shm) in a folder created 0700, whatever the umask allows', async () => {
    const path = join(root, 'data', 'nested', 'plugboard.db');
    const { notices, modes } = await openAndWrite(path);
    expect(modes).toEqual({ db: 0o600, '-wal': 0o600, '-shm': 0o600 });
    expect(mode(join(root, 'data', 'nested'))).toBe(0o700);
    expect(mode(join(root, 'data'))).toBe(0o700);
    expect(notices).toEqual([]);
  });

  it('are tightened at start when they were looser, and the log says which', async () => {
    const folder = join(root, 'data');
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
    const path = join(folder, 'plugboard.db');
    await openAndWrite(path);
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      writeFileSync(file, '', { flag: 'a' });
      chmodSync(file, 0o644);
    }
    writeFileSync(`${path}.key`, '# keys\n', { mode: 0o644 });
    chmodSync(`${path}.key`, 0o644);
    chmodSync(folder, 0o755);
    const { notices, modes } = await openAndWrite(path);
    expect(modes).toEqual({ db: 0o600, '-wal': 0o600, '-shm': 0o600 });
    expect(mode(`${path}.key`)).toBe(0o600);
    expect(mode(folder)).toBe(0o700);
    expect(notices).toEqual([
      {
        level: 'warn',
        message: 'made the database files readable by their owner only (mode 0600)',
        paths: [
          `${path} (was 0644)`,
          `${path}-wal (was 0644)`,
          `${path}-shm (was 0644)`,
          `${path}.key (was 0644)`,
        ],
      },
      {
        level: 'warn',
        message: 'made the database folder accessible by its owner only (mode 0700)',
        paths: [`${folder} (was 0755)`],
      },
    ]);
  });

  it('leave a folder shared with other files as it is, and say so', async () => {
    const folder = join(root, 'shared');
    mkdirSync(folder);
    chmodSync(folder, 0o755);
    writeFileSync(join(folder, 'README.txt'), 'not ours');
    const { notices, modes } = await openAndWrite(join(folder, 'plugboard.db'));
    expect(modes.db).toBe(0o600);
    expect(mode(folder)).toBe(0o755);
    expect(notices).toEqual([
      expect.objectContaining({
        level: 'info',
        paths: [folder],
        message: expect.stringMatching(/left as it is/),
      }),
    ]);
  });
});

describe('a database path that cannot be made', () => {
  it('says so, naming the path and DATABASE_URL', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    expect(() => openDatabase({ kind: 'sqlite', path: join(file, 'p.db') })).toThrow(
      /^cannot create the SQLite database .*a-file\/p\.db \(ENOTDIR.*\); set DATABASE_URL to sqlite:PATH/,
    );
  });
});
