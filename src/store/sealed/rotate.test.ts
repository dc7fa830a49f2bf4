/**
 * `rotateSecrets` in-process on a real SQLite file: ~1200 connectors across two accounts, made
 * once through the connector store and copied for each test. (Over 300 lines because every test
 * here copies that one fixture, which takes seconds to build: split, each part would build it again.)
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findConnectorType, type RegisteredType } from '../../connectors/registry.js';
import { DecryptionError, encodeMasterKey, generateMasterKey, MasterKeyError } from '../../secrets/cipher.js';
import { createHashing } from '../../secrets/hash-key.js';
import {
  ephemeralKeyring,
  type KeyringSource,
  keyringFromEnvironment,
  keyringFromFile,
  readKeyFile,
  writeKeyFile,
} from '../../secrets/keyring.js';
import { createSecretBox } from '../../secrets/secret-box.js';
import { createConnectorStore } from '../connector-store.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../database.js';
import { createKeyStore } from '../key-store.js';
import { verifyKeyring } from './keyring-check.js';
import { type RotationProgress, rotateSecrets } from './rotate.js';
import { keyIdsInUse } from './rows.js';

const COUNT = 1200;
const BATCH = 100;
const actor = { keyId: 'key_test', keyLabel: 'rotate test' };

function type(id: string): RegisteredType {
  const found = findConnectorType(id);
  if (!found) throw new Error(`no connector type ${id}`);
  return found;
}

/** Types with secrets (one with an optional secret), and slack without its optional url: no secret. */
const types = ['github', 'jira', 'dingtalk', 'discord', 'zoom_chat', 'zendesk', 'slack'].map(type);

interface Expected {
  readonly accountId: number;
  readonly type: string;
  readonly params: Record<string, string>;
  readonly hasSecrets: boolean;
}

function paramsFor(connectorType: RegisteredType, i: number): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [n, name] of connectorType.paramNames.entries()) {
    // Leave an optional secret out now and then; vary the length and the alphabet.
    if (connectorType.id === 'zoom_chat' && name === 'authorization' && i % 3 === 0) continue;
    if (connectorType.id === 'slack') continue;
    params[name] = `${name}-${i}-${'ü🔑'.repeat((i + n) % 4)}-${'x'.repeat(i % 17)}`;
  }
  return params;
}

const fixtureDir = mkdtempSync(join(tmpdir(), 'plugboard-rotate-fixture-'));
const fixturePath = join(fixtureDir, 'fixture.db');
const expected = new Map<string, Expected>();
let withSecrets = 0;

beforeAll(async () => {
  const database = openDatabase({ kind: 'sqlite', path: fixturePath }, { synchronous: 'NORMAL' });
  try {
    await migrateToLatest(database);
    const keys = createKeyStore(database.db, createHashing(randomBytes(32)));
    await keys.create('acme', 'write', 'acme');
    await keys.create('globex', 'write', 'globex');
    const accounts = await database.db.selectFrom('accounts').select(['id', 'name']).orderBy('id').execute();
    const accountIds = accounts.map((a) => a.id);
    expect(accountIds).toHaveLength(2);
    const { source } = keyringFromFile(`${fixturePath}.key`, { create: true });
    const store = createConnectorStore(database.db, createSecretBox(source));
    for (let i = 0; i < COUNT; i++) {
      const connectorType = types[i % types.length] as RegisteredType;
      const accountId = accountIds[i % 2] as number;
      const params = paramsFor(connectorType, i);
      const created = await store.create(accountId, actor, {
        type: connectorType,
        name: `connector ${i}`,
        params,
      });
      const hasSecrets = [...connectorType.secretParams].some((name) => name in params);
      if (hasSecrets) withSecrets++;
      expected.set(created.id, { accountId, type: connectorType.id, params, hasSecrets });
    }
  } finally {
    await database.close();
  }
  // Closing the last connection checkpoints the WAL: the .db file alone holds everything.
  expect(existsSync(`${fixturePath}-wal`)).toBe(false);
}, 30_000);

afterAll(() => {
  rmSync(fixtureDir, { recursive: true, force: true });
});

interface Copy {
  readonly path: string;
  readonly keyFile: string;
  readonly database: DatabaseHandle;
}

const copies: Copy[] = [];
afterEach(async () => {
  for (const copy of copies.splice(0)) {
    await copy.database.close();
    rmSync(join(copy.path, '..'), { recursive: true, force: true });
  }
});

/** A private copy of the fixture database and its key file. */
function copyFixture(): Copy {
  const dir = mkdtempSync(join(tmpdir(), 'plugboard-rotate-'));
  const path = join(dir, 'p.db');
  copyFileSync(fixturePath, path);
  copyFileSync(`${fixturePath}.key`, `${path}.key`);
  const copy = {
    path,
    keyFile: `${path}.key`,
    database: openDatabase({ kind: 'sqlite', path }, { synchronous: 'NORMAL' }),
  };
  copies.push(copy);
  return copy;
}

/** The ids of the keys in a key file, primary first. */
function fileKeyIds(keyFile: string): string[] {
  return readKeyFile(keyFile).keys.map((key) => key.id);
}

async function keyIdCounts(copy: Copy): Promise<Map<string | null, number>> {
  const rows = await copy.database.db
    .selectFrom('connectors')
    .select(['secret_key_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('secret_key_id')
    .execute();
  return new Map(rows.map((row) => [row.secret_key_id, Number(row.n)]));
}

async function sealedValues(copy: Copy): Promise<Map<string, string | null>> {
  const rows = await copy.database.db.selectFrom('connectors').select(['id', 'secrets']).execute();
  return new Map(rows.map((row) => [row.id, row.secrets]));
}

/** Reads every connector back through a store on `source` (default: a fresh read of the key file). */
async function expectAllReadBack(copy: Copy, source?: KeyringSource): Promise<void> {
  const keys = source ?? keyringFromFile(copy.keyFile, { create: false }).source;
  const store = createConnectorStore(copy.database.db, createSecretBox(keys));
  let read = 0;
  for (const [id, want] of expected) {
    const got = await store.get(want.accountId, id);
    expect(got?.params, id).toEqual(want.params);
    expect(got?.type.id).toBe(want.type);
    read++;
  }
  expect(read).toBe(COUNT);
}

function progressSpy() {
  const calls: RotationProgress[] = [];
  return { calls, onProgress: (progress: RotationProgress) => calls.push({ ...progress }) };
}

function expectMonotonicProgress(calls: readonly RotationProgress[], total: number): void {
  expect(calls.length).toBe(Math.ceil(total / BATCH));
  for (const [i, call] of calls.entries()) {
    expect(call.total).toBe(total);
    expect(call.done).toBeGreaterThanOrEqual(i === 0 ? 0 : (calls[i - 1]?.done ?? 0));
    expect(call.done).toBeLessThanOrEqual(total);
  }
  expect(calls.at(-1)?.done).toBe(total);
}

describe('the fixture', () => {
  it('has connectors with and without secrets in two accounts, all under one key', async () => {
    expect(withSecrets).toBeGreaterThan(1000);
    expect(withSecrets).toBeLessThan(COUNT);
    const copy = copyFixture();
    const [keyId] = fileKeyIds(copy.keyFile);
    const counts = await keyIdCounts(copy);
    expect(counts.get(keyId ?? '')).toBe(withSecrets);
    expect(counts.get(null)).toBe(COUNT - withSecrets);
    expect(await keyIdsInUse(copy.database.db)).toEqual([keyId]);
  });
});

describe('rotateSecrets with a key file', () => {
  it('re-seals every secret under a new key, with progress, and proves each one opens', async () => {
    const copy = copyFixture();
    const [oldId] = fileKeyIds(copy.keyFile);
    const before = await sealedValues(copy);
    const { source } = keyringFromFile(copy.keyFile, { create: false });
    const spy = progressSpy();

    const report = await rotateSecrets(copy.database.db, source, {
      batchSize: BATCH,
      onProgress: spy.onProgress,
      settleMs: 0,
    });

    expect(report.newKey).toBe(true);
    expect(report.keyId).not.toBe(oldId);
    expect(report.resealed).toBe(withSecrets);
    expect(report.verified).toBe(withSecrets);
    // Nothing is sealed with the old key any more: it is retired from the file.
    expect(report.retiredKeyIds).toEqual([oldId]);
    expect(fileKeyIds(copy.keyFile)).toEqual([report.keyId]);
    expect(statSync(copy.keyFile).mode & 0o777).toBe(0o600);
    expect([...(await keyIdCounts(copy)).entries()].sort()).toEqual(
      [
        [report.keyId, withSecrets],
        [null, COUNT - withSecrets],
      ].sort(),
    );
    expectMonotonicProgress(spy.calls, withSecrets);

    // Every ciphertext is new; rows without secrets stayed without.
    const after = await sealedValues(copy);
    for (const [id, sealed] of before) {
      if (sealed === null) expect(after.get(id)).toBeNull();
      else expect(after.get(id)).not.toBe(sealed);
    }
    await expectAllReadBack(copy);
    // And they open with the new key alone.
    const newKey = keyringFromFile(copy.keyFile, { create: false }).source.current().primary;
    await expectAllReadBack(copy, ephemeralKeyring([newKey]));

    // Nothing was left to re-seal: a second run makes yet another key.
    const second = await rotateSecrets(copy.database.db, source, { batchSize: BATCH, settleMs: 0 });
    expect(second.newKey).toBe(true);
    expect(second.keyId).not.toBe(report.keyId);
    expect(second.keyId).not.toBe(oldId);
    expect(second.resealed).toBe(withSecrets);
    expect(second.verified).toBe(withSecrets);
    expect(second.retiredKeyIds).toEqual([report.keyId]);
    expect(fileKeyIds(copy.keyFile)).toEqual([second.keyId]);
    expect(await keyIdsInUse(copy.database.db)).toEqual([second.keyId]);
    await expectAllReadBack(copy);
  });

  /** Makes a source whose keyring fails after `calls` uses: a crash inside a batch's transaction. */
  function failingAfter(source: KeyringSource, calls: number): KeyringSource {
    let used = 0;
    return {
      description: source.description,
      ...(source.file === undefined ? {} : { file: source.file }),
      reload: () => source.reload(),
      current() {
        used++;
        if (used > calls) throw new Error('simulated crash');
        return source.current();
      },
    };
  }

  type Crash = (source: KeyringSource) => {
    source: KeyringSource;
    onProgress?: (progress: RotationProgress) => void;
  };
  it.each<[string, Crash]>([
    [
      'onProgress throws after the 2nd batch',
      (source: KeyringSource) => ({
        source,
        onProgress: ({ done }: RotationProgress) => {
          if (done >= 2 * BATCH) throw new Error('simulated crash');
        },
      }),
    ],
    [
      'the keyring fails half-way through the 3rd batch (before any of its updates)',
      // Each re-sealed row uses the keyring twice (open, seal).
      (source: KeyringSource) => ({ source: failingAfter(source, 2 * (2 * BATCH + BATCH / 2)) }),
    ],
  ])('resumes after a crash: %s', async (_name, crash) => {
    const copy = copyFixture();
    const [oldId] = fileKeyIds(copy.keyFile);
    const { source } = keyringFromFile(copy.keyFile, { create: false });
    const broken = crash(source);

    await expect(
      rotateSecrets(copy.database.db, broken.source, {
        batchSize: BATCH,
        settleMs: 0,
        ...(broken.onProgress ? { onProgress: broken.onProgress } : {}),
      }),
    ).rejects.toThrow('simulated crash');

    // Consistent: two whole batches under the new key, the rest under the old, all readable.
    const keyIds = fileKeyIds(copy.keyFile);
    expect(keyIds).toHaveLength(2);
    const [newId] = keyIds;
    expect(keyIds[1]).toBe(oldId);
    const counts = await keyIdCounts(copy);
    expect(counts.get(newId ?? '')).toBe(2 * BATCH);
    expect(counts.get(oldId ?? '')).toBe(withSecrets - 2 * BATCH);
    expect(counts.get(null)).toBe(COUNT - withSecrets);
    await expectAllReadBack(copy);

    // The next run finishes the job with the key the first one made.
    const spy = progressSpy();
    const resumed = await rotateSecrets(copy.database.db, source, {
      batchSize: BATCH,
      onProgress: spy.onProgress,
      settleMs: 0,
    });
    expect(resumed.newKey).toBe(false);
    expect(resumed.keyId).toBe(newId);
    expect(resumed.resealed).toBe(withSecrets - 2 * BATCH);
    expect(resumed.verified).toBe(withSecrets);
    expect(resumed.retiredKeyIds).toEqual([oldId]);
    expect(fileKeyIds(copy.keyFile)).toEqual([newId]);
    expectMonotonicProgress(spy.calls, withSecrets - 2 * BATCH);
    expect(await keyIdsInUse(copy.database.db)).toEqual([newId]);
    await expectAllReadBack(copy);
  });

  it('re-seals in a later pass a row written with the old key by a server that had not reloaded yet', async () => {
    const copy = copyFixture();
    const { source } = keyringFromFile(copy.keyFile, { create: false });
    // A "server" that still holds only the old key.
    const staleServer = createConnectorStore(
      copy.database.db,
      createSecretBox(ephemeralKeyring([source.current().primary])),
    );
    const accountId = [...expected.values()][0]?.accountId ?? 0;
    let late: Promise<string> | undefined;
    const report = await rotateSecrets(copy.database.db, source, {
      batchSize: BATCH,
      settleMs: 10,
      onProgress: ({ done, total }) => {
        // Once the first pass has gone over every row: a write sealed with the old key.
        if (done === total && !late) {
          late = staleServer
            .create(accountId, actor, {
              type: type('github'),
              name: 'written late',
              params: { apiKey: 'late' },
            })
            .then((created) => created.id);
        }
      },
    });
    const lateId = await late;
    if (!lateId) throw new Error('the late write did not happen');
    expect(report.resealed).toBe(withSecrets + 1);
    expect(report.verified).toBe(withSecrets + 1);
    expect(await keyIdsInUse(copy.database.db)).toEqual([report.keyId]);
    const store = createConnectorStore(copy.database.db, createSecretBox(source));
    expect((await store.get(accountId, lateId))?.params).toEqual({ apiKey: 'late' });
  });
});

describe('rotateSecrets with PLUGBOARD_MASTER_KEY', () => {
  it('with nothing to re-seal, says how to rotate and changes nothing', async () => {
    const copy = copyFixture();
    const fileKey = keyringFromFile(copy.keyFile, { create: false }).source.current().primary;
    const keyFileBefore = readFileSync(copy.keyFile, 'utf8');
    const before = await sealedValues(copy);
    const source = keyringFromEnvironment(encodeMasterKey(fileKey), undefined);
    const error = await rotateSecrets(copy.database.db, source, { settleMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasterKeyError);
    expect((error as Error).message).toMatch(/PLUGBOARD_MASTER_KEY/);
    expect((error as Error).message).toMatch(/PLUGBOARD_PREVIOUS_MASTER_KEYS/);
    expect((error as Error).message).not.toContain(encodeMasterKey(fileKey));
    expect(await sealedValues(copy)).toEqual(before);
    expect(readFileSync(copy.keyFile, 'utf8')).toBe(keyFileBefore);
  });

  it('re-seals under a new PLUGBOARD_MASTER_KEY with the old key in PLUGBOARD_PREVIOUS_MASTER_KEYS', async () => {
    const copy = copyFixture();
    const oldKey = keyringFromFile(copy.keyFile, { create: false }).source.current().primary;
    const keyFileBefore = readFileSync(copy.keyFile, 'utf8');
    const newKey = generateMasterKey();
    const source = keyringFromEnvironment(encodeMasterKey(newKey), encodeMasterKey(oldKey));
    const spy = progressSpy();
    const report = await rotateSecrets(copy.database.db, source, {
      batchSize: BATCH,
      onProgress: spy.onProgress,
      settleMs: 0,
    });
    expect(report).toEqual({
      keyId: newKey.id,
      newKey: false,
      resealed: withSecrets,
      verified: withSecrets,
      resealedRecords: 0,
      verifiedRecords: 0,
      forgottenRecords: 0,
      resealedHashKey: false,
      // PLUGBOARD_PREVIOUS_MASTER_KEYS no longer needs the old key.
      retiredKeyIds: [oldKey.id],
    });
    expectMonotonicProgress(spy.calls, withSecrets);
    // The key file is not the source here: left alone.
    expect(readFileSync(copy.keyFile, 'utf8')).toBe(keyFileBefore);
    await expectAllReadBack(copy, ephemeralKeyring([newKey]));
    // Run again with the old key still given (as after an interruption before it was dropped): it
    // re-seals nothing, proves, and says again that the old key can go; no new key is asked for.
    const again = await rotateSecrets(copy.database.db, source, { settleMs: 0 });
    expect(again).toMatchObject({ keyId: newKey.id, newKey: false, resealed: 0, retiredKeyIds: [oldKey.id] });
    // With the old key dropped: nothing to do, and it says how to rotate again.
    const alone = keyringFromEnvironment(encodeMasterKey(newKey), undefined);
    await expect(rotateSecrets(copy.database.db, alone, { settleMs: 0 })).rejects.toThrow(/already sealed/);
  });

  it('carries on, without a new key, after a run interrupted once everything was re-sealed', async () => {
    const copy = copyFixture();
    const { source } = keyringFromFile(copy.keyFile, { create: false });
    const first = await rotateSecrets(copy.database.db, source, { settleMs: 0 });
    expect(first.newKey).toBe(true);
    // As if it had been killed before retiring: the file holds the new key and the old one.
    const oldKey = generateMasterKey();
    writeKeyFile(copy.keyFile, [source.current().primary, oldKey]);
    source.reload();
    const resumed = await rotateSecrets(copy.database.db, source, { settleMs: 0 });
    expect(resumed).toMatchObject({
      keyId: first.keyId,
      newKey: false,
      resealed: 0,
      retiredKeyIds: [oldKey.id],
    });
    expect(fileKeyIds(copy.keyFile)).toEqual([first.keyId]);
  });
});

describe('connector ids and types are bound into the ciphertext', () => {
  function pick(filter: (want: Expected) => boolean, skip = 0): [string, Expected] {
    const found = [...expected.entries()].filter(([, want]) => filter(want))[skip];
    if (!found) throw new Error('no such connector in the fixture');
    return found;
  }

  it('a ciphertext copied to another row does not open, at the store level', async () => {
    const copy = copyFixture();
    const { db } = copy.database;
    const store = createConnectorStore(
      db,
      createSecretBox(keyringFromFile(copy.keyFile, { create: false }).source),
    );
    const [fromId, from] = pick((w) => w.type === 'github');
    const [sameAccountId, sameAccount] = pick(
      (w) => w.type === 'github' && w.accountId === from.accountId,
      1,
    );
    const [otherAccountId, otherAccount] = pick((w) => w.type === 'github' && w.accountId !== from.accountId);
    const [otherTypeId, otherType] = pick((w) => w.type === 'jira' && w.accountId === from.accountId);

    for (const target of [sameAccountId, otherAccountId, otherTypeId]) {
      await sql`update connectors
        set secrets = (select secrets from connectors where id = ${fromId}),
            secret_key_id = (select secret_key_id from connectors where id = ${fromId})
        where id = ${target}`.execute(db);
    }
    await expect(store.get(sameAccount.accountId, sameAccountId)).rejects.toThrow(DecryptionError);
    // The log of the 500 names the connector, so an operator can find the row.
    await expect(store.get(sameAccount.accountId, sameAccountId)).rejects.toThrow(
      `connector ${sameAccountId}`,
    );
    await expect(store.get(otherAccount.accountId, otherAccountId)).rejects.toThrow(DecryptionError);
    await expect(store.get(otherType.accountId, otherTypeId)).rejects.toThrow(DecryptionError);
    // The original still opens.
    expect((await store.get(from.accountId, fromId))?.params).toEqual(from.params);

    // Changing a row's type in place breaks it too.
    const [retypedId, retyped] = pick((w) => w.type === 'github', 2);
    await sql`update connectors set type = 'zendesk' where id = ${retypedId}`.execute(db);
    await expect(store.get(retyped.accountId, retypedId)).rejects.toThrow(DecryptionError);
  });

  it('verifyKeyring refuses a key that is missing, or present by id but wrong', async () => {
    const copy = copyFixture();
    const { db } = copy.database;
    const fileKey = keyringFromFile(copy.keyFile, { create: false }).source.current().primary;
    await expect(verifyKeyring(db, keyringFromFile(copy.keyFile, { create: false }).source)).resolves.toBe(
      undefined,
    );
    const missing = verifyKeyring(db, ephemeralKeyring());
    await expect(missing).rejects.toThrow(MasterKeyError);
    await expect(missing).rejects.toThrow(fileKey.id);
    const impostor = ephemeralKeyring([{ id: fileKey.id, material: generateMasterKey().material }]);
    await expect(verifyKeyring(db, impostor)).rejects.toThrow(/does not open/);
  });
});
