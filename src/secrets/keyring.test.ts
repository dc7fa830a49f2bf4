import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeMasterKey, generateMasterKey, type MasterKey, MasterKeyError, open, seal } from './cipher.js';
import {
  createKeyFile,
  ephemeralKeyring,
  KEY_FILE_CHECK_MS,
  keyFilePath,
  keyringFromEnvironment,
  keyringFromFile,
  makeKeyring,
  resolveKeyring,
  writeKeyFile,
} from './keyring.js';
import { createSecretBox, UnknownMasterKeyError } from './secret-box.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'plugboard-keyring-'));
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** The key lines of a key file (comments and blanks left out). */
function keyLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

const ids = (keys: readonly MasterKey[]) => keys.map((key) => key.id);

describe('makeKeyring', () => {
  it('takes the first key as primary, finds every key by id and drops duplicates', () => {
    const [a, b] = [generateMasterKey(), generateMasterKey()];
    const keyring = makeKeyring([a, b, a]);
    expect(keyring.primary.id).toBe(a.id);
    expect(ids(keyring.keys)).toEqual([a.id, b.id]);
    expect(keyring.find(b.id)?.material.equals(b.material)).toBe(true);
    expect(keyring.find('0000000000000000')).toBeUndefined();
  });

  it('refuses an empty list', () => {
    expect(() => makeKeyring([])).toThrow(MasterKeyError);
  });
});

describe('the key file', () => {
  it('is created with mode 0600 holding one key, and read back unchanged', () => {
    const path = join(dir, 'p.db.key');
    const first = keyringFromFile(path, { create: true });
    expect(first.created).toBe(true);
    expect(mode(path)).toBe(0o600);
    const lines = keyLines(path);
    expect(lines).toHaveLength(1);
    expect(Buffer.from(lines[0] ?? '', 'base64')).toHaveLength(32);
    expect(encodeMasterKey(first.source.current().primary)).toBe(lines[0]);
    expect(first.source.file).toBe(path);
    expect(first.source.description).toContain(path);
    expect(first.source.description).not.toContain(lines[0]);

    const again = keyringFromFile(path, { create: true });
    expect(again.created).toBe(false);
    expect(again.source.current().primary.id).toBe(first.source.current().primary.id);
    expect(keyLines(path)).toEqual(lines);
    expect(mode(path)).toBe(0o600);
  });

  it('is created 0600 even under a permissive umask', () => {
    const previous = process.umask(0o000);
    try {
      const path = join(dir, 'open.db.key');
      keyringFromFile(path, { create: true });
      expect(mode(path)).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('is created only once: a second creator (another process starting at the same moment) keeps the first key', () => {
    const path = join(dir, 'p.db.key');
    const [first, second] = [generateMasterKey(), generateMasterKey()];
    expect(createKeyFile(path, [first])).toBe(true);
    expect(createKeyFile(path, [second])).toBe(false);
    expect(keyLines(path)).toEqual([encodeMasterKey(first)]);
    expect(mode(path)).toBe(0o600);
    // Neither left its temporary file behind.
    expect(readdirSync(dir)).toEqual(['p.db.key']);
    // A start that finds the file (made by the other process) reads that key and says it made none.
    const found = keyringFromFile(path, { create: true });
    expect(found.created).toBe(false);
    expect(found.source.current().primary.id).toBe(first.id);
  });

  it('is not created when create is false', () => {
    const path = join(dir, 'missing.key');
    expect(() => keyringFromFile(path, { create: false })).toThrow(/does not exist/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('is written atomically, primary first, leaving no temporary file, mode 0600 even over a 0644 file', () => {
    const path = join(dir, 'p.db.key');
    writeFileSync(path, `${encodeMasterKey(generateMasterKey())}\n`, { mode: 0o644 });
    expect(mode(path)).toBe(0o644);
    const keys = [generateMasterKey(), generateMasterKey(), generateMasterKey()];
    writeKeyFile(path, keys);
    expect(readdirSync(dir)).toEqual(['p.db.key']);
    expect(mode(path)).toBe(0o600);
    expect(keyLines(path)).toEqual(keys.map(encodeMasterKey));
    const { source } = keyringFromFile(path, { create: false });
    expect(source.current().primary.id).toBe(keys[0]?.id);
    expect(ids(source.current().keys)).toEqual(ids(keys));
  });

  it('ignores comments and blank lines, and names the file and line of a bad key but not its value', () => {
    const path = join(dir, 'p.db.key');
    const good = encodeMasterKey(generateMasterKey());
    writeFileSync(path, `# comment\n\n  ${good}  \n`, { mode: 0o600 });
    expect(ids(keyringFromFile(path, { create: false }).source.current().keys)).toHaveLength(1);

    const bad = randomBytes(31).toString('base64');
    writeFileSync(path, `# comment\n${good}\n${bad}\n`, { mode: 0o600 });
    let message = '';
    try {
      keyringFromFile(path, { create: false });
    } catch (error) {
      expect(error).toBeInstanceOf(MasterKeyError);
      message = (error as Error).message;
    }
    expect(message).toContain(path);
    expect(message).toContain('line 2');
    expect(message).not.toContain(bad);
    expect(message).not.toContain(good);
  });

  it('an empty key file is an error, not a silent new key', () => {
    const path = join(dir, 'p.db.key');
    writeFileSync(path, '# nothing here\n', { mode: 0o600 });
    expect(() => keyringFromFile(path, { create: true })).toThrow(MasterKeyError);
    expect(readFileSync(path, 'utf8')).toBe('# nothing here\n');
  });

  it('a source notices a rewritten file after KEY_FILE_CHECK_MS, not before', async () => {
    const path = join(dir, 'p.db.key');
    const { source } = keyringFromFile(path, { create: true });
    const old = source.current().primary;
    // Let the file system clock move on, so that the rewritten file has another mtime.
    await new Promise((resolve) => setTimeout(resolve, 30));

    vi.useFakeTimers({ toFake: ['Date'] });
    const fresh = generateMasterKey();
    writeKeyFile(path, [fresh, old]);
    expect(source.current().primary.id).toBe(old.id);
    vi.setSystemTime(Date.now() + KEY_FILE_CHECK_MS / 2);
    expect(source.current().primary.id).toBe(old.id);
    vi.setSystemTime(Date.now() + KEY_FILE_CHECK_MS / 2 + 1);
    expect(source.current().primary.id).toBe(fresh.id);
    expect(ids(source.current().keys)).toEqual([fresh.id, old.id]);
  });

  it('keeps the loaded keys when the file is gone for a moment', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const path = join(dir, 'p.db.key');
    const { source } = keyringFromFile(path, { create: true });
    const old = source.current().primary.id;
    rmSync(path);
    vi.setSystemTime(Date.now() + KEY_FILE_CHECK_MS + 1);
    expect(source.current().primary.id).toBe(old);
  });

  it('reload() reads the file at once', () => {
    const path = join(dir, 'p.db.key');
    const { source } = keyringFromFile(path, { create: true });
    const old = source.current().primary;
    const fresh = generateMasterKey();
    writeKeyFile(path, [fresh, old]);
    expect(source.reload().primary.id).toBe(fresh.id);
    expect(source.current().primary.id).toBe(fresh.id);
  });

  it('a secret box opens a value sealed under a key it has not loaded yet by reloading the file', () => {
    const path = join(dir, 'p.db.key');
    const server = keyringFromFile(path, { create: true }).source;
    const rotator = keyringFromFile(path, { create: false }).source;
    const old = server.current().primary;
    const fresh = generateMasterKey();
    writeKeyFile(path, [fresh, old]);
    rotator.reload();
    const sealed = createSecretBox(rotator).seal('c_1', 'github', { apiKey: 'ghp_secret' });
    expect(sealed.keyId).toBe(fresh.id);
    // The server's box has only the old key loaded, and its check interval has not passed.
    expect(createSecretBox(server).open('c_1', 'github', sealed)).toEqual({ apiKey: 'ghp_secret' });
    // Bound to the connector: another id or type does not open.
    expect(() => createSecretBox(server).open('c_2', 'github', sealed)).toThrow();
    expect(() => createSecretBox(server).open('c_1', 'jira', sealed)).toThrow();
    // A key nobody has is named (by id) in the error.
    expect(() =>
      createSecretBox(server).open('c_1', 'github', { ...sealed, keyId: 'ffffffffffffffff' }),
    ).toThrow(UnknownMasterKeyError);
  });
});

describe('keyringFromEnvironment', () => {
  const [primary, previousA, previousB] = [generateMasterKey(), generateMasterKey(), generateMasterKey()];

  it('uses PLUGBOARD_MASTER_KEY alone', () => {
    const source = keyringFromEnvironment(encodeMasterKey(primary), undefined);
    expect(source.current().primary.id).toBe(primary.id);
    expect(ids(source.current().keys)).toEqual([primary.id]);
    expect(source.file).toBeUndefined();
    expect(source.description).toBe('PLUGBOARD_MASTER_KEY');
    expect(source.reload().primary.id).toBe(primary.id);
  });

  it('adds the previous keys for reading, skipping blank entries', () => {
    const source = keyringFromEnvironment(
      encodeMasterKey(primary),
      ` ${encodeMasterKey(previousA)}, ,${previousB.material.toString('base64url')},`,
    );
    const keyring = source.current();
    expect(keyring.primary.id).toBe(primary.id);
    expect(ids(keyring.keys)).toEqual([primary.id, previousA.id, previousB.id]);
    // What the previous keys sealed opens; new values are sealed with the primary.
    const old = seal(previousB, 'old', 'aad');
    expect(open(keyring.find(previousB.id) as MasterKey, old, 'aad')).toBe('old');
    expect(createSecretBox(source).primaryKeyId()).toBe(primary.id);
  });

  it('names the bad entry but never its value', () => {
    const bad = randomBytes(20).toString('base64');
    let message = '';
    try {
      keyringFromEnvironment(encodeMasterKey(primary), `${encodeMasterKey(previousA)},${bad}`);
    } catch (error) {
      expect(error).toBeInstanceOf(MasterKeyError);
      message = (error as Error).message;
    }
    expect(message).toContain('PLUGBOARD_PREVIOUS_MASTER_KEYS');
    expect(message).toContain('entry 2');
    expect(message).not.toContain(bad);
    expect(message).not.toContain(encodeMasterKey(previousA));

    expect(() => keyringFromEnvironment('not a key', undefined)).toThrow(/PLUGBOARD_MASTER_KEY/);
  });
});

describe('resolveKeyring', () => {
  const sqlite = (path: string) => ({ kind: 'sqlite' as const, path });

  it('uses the environment when PLUGBOARD_MASTER_KEY is set, and writes no key file', () => {
    const key = generateMasterKey();
    const previous = generateMasterKey();
    const path = join(dir, 'p.db');
    const resolved = resolveKeyring({
      masterKey: encodeMasterKey(key),
      previousMasterKeys: encodeMasterKey(previous),
      database: sqlite(path),
    });
    expect(resolved.createdFile).toBeUndefined();
    expect(resolved.source.file).toBeUndefined();
    expect(resolved.source.current().primary.id).toBe(key.id);
    expect(ids(resolved.source.current().keys)).toEqual([key.id, previous.id]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('creates the key file beside the database once, then reuses it', () => {
    const path = join(dir, 'data', 'p.db');
    mkdirSync(join(dir, 'data'));
    const config = { masterKey: undefined, previousMasterKeys: undefined, database: sqlite(path) };
    const first = resolveKeyring(config);
    expect(keyFilePath(path)).toBe(`${path}.key`);
    expect(first.createdFile).toBe(`${path}.key`);
    expect(first.source.file).toBe(`${path}.key`);
    expect(mode(`${path}.key`)).toBe(0o600);
    const second = resolveKeyring(config);
    expect(second.createdFile).toBeUndefined();
    expect(second.source.current().primary.id).toBe(first.source.current().primary.id);
  });

  it('uses an in-memory key for an in-memory database', () => {
    const resolved = resolveKeyring({
      masterKey: undefined,
      previousMasterKeys: undefined,
      database: sqlite(':memory:'),
    });
    expect(resolved.createdFile).toBeUndefined();
    expect(resolved.source.file).toBeUndefined();
    expect(resolved.source.current().keys).toHaveLength(1);
    expect(ephemeralKeyring().current().primary.id).not.toBe(resolved.source.current().primary.id);
  });

  it('refuses previous keys without a primary, naming both variables', () => {
    const path = join(dir, 'p.db');
    expect(() =>
      resolveKeyring({
        masterKey: undefined,
        previousMasterKeys: encodeMasterKey(generateMasterKey()),
        database: sqlite(path),
      }),
    ).toThrow(/PLUGBOARD_PREVIOUS_MASTER_KEYS.*PLUGBOARD_MASTER_KEY/);
    // And made no key file on the way.
    expect(readdirSync(dir)).toEqual([]);
  });
});
