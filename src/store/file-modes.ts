import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/** What securing a database's files changed, or would have liked to, for the log. */
export interface FileModeNotice {
  /** `warn`: files were open to other users until now; `info`: nothing changed. */
  readonly level: 'warn' | 'info';
  readonly message: string;
  readonly paths: readonly string[];
}

const PRIVATE_FILE = 0o600;
const PRIVATE_FOLDER = 0o700;
const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * Makes a SQLite database's files readable by their owner only, before SQLite opens them: they hold
 * key hashes, idempotency fingerprints and sealed secrets, and a copy of them is what an attacker
 * guesses offline from. The folder is created 0700 and the database file 0600 (SQLite creates the
 * `-wal` and `-shm` files with the mode of the database file). Files of this database made looser
 * before (by an older version, or a copy) are tightened to 0600: the database, `-wal`, `-shm` and
 * the key file. An existing folder is tightened to 0700 only when it holds nothing but this
 * database's files; otherwise (a shared folder such as the working directory) it is left alone and
 * a notice says so.
 */
export function secureDatabaseFiles(path: string): FileModeNotice[] {
  const notices: FileModeNotice[] = [];
  const folder = dirname(path);
  try {
    if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: PRIVATE_FOLDER });
    if (!existsSync(path)) closeSync(openSync(path, 'a', PRIVATE_FILE));
  } catch (error) {
    // ENOTDIR, EACCES, EROFS…: Node's message names the call and the path, not the setting.
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot create the SQLite database ${path} (${reason}); set DATABASE_URL to sqlite:PATH with PATH in a folder this user can write to`,
    );
  }

  const tightened: string[] = [];
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}.key`]) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode;
    if ((mode & 0o077) === 0) continue;
    chmodSync(file, PRIVATE_FILE);
    tightened.push(`${file} (was ${octal(mode)})`);
  }
  if (tightened.length > 0) {
    notices.push({
      level: 'warn',
      message: 'made the database files readable by their owner only (mode 0600)',
      paths: tightened,
    });
  }

  const folderMode = statSync(folder).mode;
  if ((folderMode & 0o077) !== 0) {
    const name = basename(path);
    const others = readdirSync(folder).filter((entry) => !entry.startsWith(name));
    if (others.length === 0) {
      chmodSync(folder, PRIVATE_FOLDER);
      notices.push({
        level: 'warn',
        message: 'made the database folder accessible by its owner only (mode 0700)',
        paths: [`${folder} (was ${octal(folderMode)})`],
      });
    } else {
      notices.push({
        level: 'info',
        message: `the database folder is open to other users (mode ${octal(folderMode)}) and holds other files, so it was left as it is; the database files in it are 0600. Keep the database in a folder of its own to have that folder made 0700`,
        paths: [folder],
      });
    }
  }
  return notices;
}
