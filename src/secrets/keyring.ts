import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { Config } from '../config.js';
import {
  encodeMasterKey,
  generateMasterKey,
  type MasterKey,
  MasterKeyError,
  parseMasterKey,
} from './cipher.js';

/** The master keys in force: `primary` seals every new write, the others still open old values. */
export interface Keyring {
  readonly primary: MasterKey;
  readonly keys: readonly MasterKey[];
  find(id: string): MasterKey | undefined;
}

/** Where the keys come from. A file source notices a changed file (after a rotation) by itself. */
export interface KeyringSource {
  /** For messages: `PLUGBOARD_MASTER_KEY` or `key file /path`. Never a key. */
  readonly description: string;
  /** The key file, when the keys live in one. */
  readonly file?: string;
  current(): Keyring;
  /** Re-reads the source now (a file source; the environment cannot change). */
  reload(): Keyring;
}

export function makeKeyring(keys: readonly MasterKey[]): Keyring {
  const [primary] = keys;
  if (!primary) throw new MasterKeyError('a keyring needs at least one master key');
  const byId = new Map(keys.map((key) => [key.id, key]));
  return { primary, keys: [...byId.values()], find: (id) => byId.get(id) };
}

/** PLUGBOARD_MASTER_KEY (primary) and PLUGBOARD_PREVIOUS_MASTER_KEYS (comma-separated, for reading). */
export function keyringFromEnvironment(primary: string, previous: string | undefined): KeyringSource {
  const keys = [parseMasterKey(primary, 'PLUGBOARD_MASTER_KEY')];
  for (const [i, encoded] of (previous ?? '').split(',').entries()) {
    if (encoded.trim() !== '')
      keys.push(parseMasterKey(encoded, `PLUGBOARD_PREVIOUS_MASTER_KEYS (entry ${i + 1})`));
  }
  const keyring = makeKeyring(keys);
  return { description: 'PLUGBOARD_MASTER_KEY', current: () => keyring, reload: () => keyring };
}

/** A keyring that lives only in memory (for `sqlite::memory:` and tests). */
export function ephemeralKeyring(keys: readonly MasterKey[] = [generateMasterKey()]): KeyringSource {
  const keyring = makeKeyring(keys);
  return { description: 'an in-memory key', current: () => keyring, reload: () => keyring };
}

/** The keys of a key file, primary first: one base64 key per line, `#` comments and blank lines skipped. */
export function readKeyFile(path: string): Keyring {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return makeKeyring(lines.map((line, i) => parseMasterKey(line, `key file ${path} (line ${i + 1})`)));
}

/**
 * Writes a key file atomically with mode 0600: the primary key first, then the older keys.
 * Written to a temporary file, flushed, then renamed over the old one.
 */
export function writeKeyFile(path: string, keys: readonly MasterKey[]): void {
  renameSync(writeTemporaryKeyFile(path, keys), path);
}

/**
 * Creates a key file only if none exists, atomically: another process starting at the same moment
 * either finds this one's whole file or makes its own first, never half of one, and never two
 * different keys for one database (a hard link fails when the name is taken, where a rename would
 * replace). Says whether this call made the file.
 */
export function createKeyFile(path: string, keys: readonly MasterKey[]): boolean {
  const temporary = writeTemporaryKeyFile(path, keys);
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/** The key file's text written to a temporary file beside it, mode 0600, flushed; its path. */
function writeTemporaryKeyFile(path: string, keys: readonly MasterKey[]): string {
  const text = [
    '# Plugboard master keys (base64, 32 bytes each). The first seals new secrets; the others',
    '# still open older ones. Keep this file secret and back it up with the database.',
    ...keys.map(encodeMasterKey),
    '',
  ].join('\n');
  const temporary = `${path}.tmp-${process.pid}-${randomUUID()}`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temporary;
}

/** How often a file source looks whether its file changed. */
export const KEY_FILE_CHECK_MS = 2_000;

/**
 * The key file beside the database. Created with a new key when `create` is set and it does not
 * exist. Reloaded when its modification time changes (checked at most every KEY_FILE_CHECK_MS),
 * so that a running server picks up `plugboard secrets rotate` without a restart.
 */
export function keyringFromFile(
  path: string,
  { create }: { create: boolean },
): { source: KeyringSource; created: boolean } {
  let created = false;
  if (!existsSync(path)) {
    if (!create) throw new MasterKeyError(`the key file ${path} does not exist`);
    created = createKeyFile(path, [generateMasterKey()]);
  }
  let keyring = readKeyFile(path);
  let modified = statSync(path).mtimeMs;
  let checked = Date.now();
  const reload = () => {
    keyring = readKeyFile(path);
    modified = statSync(path).mtimeMs;
    checked = Date.now();
    return keyring;
  };
  const source: KeyringSource = {
    description: `key file ${path}`,
    file: path,
    current() {
      if (Date.now() - checked >= KEY_FILE_CHECK_MS) {
        checked = Date.now();
        try {
          if (statSync(path).mtimeMs !== modified) reload();
        } catch {
          // The file is being replaced or is gone for a moment: keep the keys already loaded.
        }
      }
      return keyring;
    },
    reload,
  };
  return { source, created };
}

/** The key file of a SQLite database: beside it, named after it. */
export function keyFilePath(databasePath: string): string {
  return `${databasePath}.key`;
}

export interface ResolvedKeyring {
  readonly source: KeyringSource;
  /** Set when a new key file was written (the caller logs where, never the key). */
  readonly createdFile?: string;
}

/**
 * Where the master keys come from: PLUGBOARD_MASTER_KEY (and PLUGBOARD_PREVIOUS_MASTER_KEYS) when
 * set; else the key file beside the SQLite database, created on first use; an in-memory key for
 * an in-memory database.
 */
export function resolveKeyring(
  config: Pick<Config, 'masterKey' | 'previousMasterKeys' | 'database'>,
  { createFile = true }: { createFile?: boolean } = {},
): ResolvedKeyring {
  if (config.masterKey !== undefined) {
    return { source: keyringFromEnvironment(config.masterKey, config.previousMasterKeys) };
  }
  if (config.previousMasterKeys !== undefined) {
    throw new MasterKeyError(
      'PLUGBOARD_PREVIOUS_MASTER_KEYS is set but PLUGBOARD_MASTER_KEY is not; set both',
    );
  }
  if (config.database.kind === 'postgres') {
    throw new MasterKeyError(
      'PLUGBOARD_MASTER_KEY is not set: with PostgreSQL there is no key file, because every instance must seal ' +
        'and open secrets with the same key; set PLUGBOARD_MASTER_KEY to 32 random bytes in base64 ' +
        '(e.g. the output of: openssl rand -base64 32), the same on every instance',
    );
  }
  if (config.database.path === ':memory:') return { source: ephemeralKeyring() };
  const path = keyFilePath(config.database.path);
  const { source, created } = keyringFromFile(path, { create: createFile });
  return created ? { source, createdFile: path } : { source };
}
