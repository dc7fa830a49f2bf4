/**
 * `rotateSecrets` beyond connectors: idempotency records re-sealed, proven and pruned; older keys
 * retired from the key file, with servers still holding them; compare-and-set against a server's
 * write; no write lock held while sealing; a server that keeps sealing with an old key. (Over 300
 * lines because both halves use one fixture and its checks, and a helper module under src/ would be
 * compiled into dist/ with its vitest import.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { github } from '../../connectors/types/github/index.js';
import { encodeMasterKey, generateMasterKey, type MasterKey, MasterKeyError } from '../../secrets/cipher.js';
import type { Hashing } from '../../secrets/hash-key.js';
import {
  ephemeralKeyring,
  type KeyringSource,
  keyringFromEnvironment,
  keyringFromFile,
  readKeyFile,
} from '../../secrets/keyring.js';
import { createSecretBox } from '../../secrets/secret-box.js';
import { createConnectorStore } from '../connector-store.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../database.js';
import { createIdempotencyStore, IDEMPOTENCY_TTL_MS } from '../idempotency-store.js';
import { createKeyStore } from '../key-store.js';
import { openHashing } from './hash-key.js';
import { rotateSecrets, SETTLE_MS } from './rotate.js';
import { keyIdsInUse } from './rows.js';

const actor = { keyId: 'key_test', keyLabel: 'rotate test' };
const COUNT = 12;
const fast = { batchSize: 5, pauseMs: 0, settleMs: 0 };

interface Fixture {
  readonly path: string;
  readonly keyFile: string;
  readonly database: DatabaseHandle;
  readonly accountId: number;
  readonly hashing: Hashing;
  readonly oldKey: MasterKey;
  /** Connector id by record key (`key-<i>`), and the response each record replays. */
  readonly created: Map<string, { id: string; body: unknown }>;
}

const fixtures: Fixture[] = [];
afterEach(async () => {
  for (const fixture of fixtures.splice(0)) {
    await fixture.database.close();
    rmSync(join(fixture.path, '..'), { recursive: true, force: true });
  }
});

/** A SQLite file with a key file, COUNT connectors and an idempotency record for each. */
async function fixture(): Promise<Fixture> {
  const path = join(mkdtempSync(join(tmpdir(), 'plugboard-rotate-records-')), 'p.db');
  const database = openDatabase({ kind: 'sqlite', path }, { synchronous: 'NORMAL' });
  await migrateToLatest(database);
  const { source } = keyringFromFile(`${path}.key`, { create: true });
  const hashing = await openHashing(database.db, source);
  await createKeyStore(database.db, hashing).create('acme', 'write', 'acme');
  const { id: accountId } = await database.db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
  const box = createSecretBox(source);
  const store = createConnectorStore(database.db, box);
  const records = createIdempotencyStore(database.db, box, hashing);
  const created = new Map<string, { id: string; body: unknown }>();
  for (let i = 0; i < COUNT; i++) {
    const key = `key-${i}`;
    const outcome = await records.run({ accountId, apiKeyId: 'key_acme' }, key, `hash-${i}`, async (trx) => {
      const connector = await store.create(
        accountId,
        actor,
        { type: github, name: `c${i}`, params: { apiKey: `secret-${i}` } },
        trx,
      );
      return { status: 200, body: connector };
    });
    if (outcome.kind !== 'done') throw new Error(`key ${key}: ${outcome.kind}`);
    const body = JSON.parse(JSON.stringify(outcome.body)) as { id: string };
    created.set(key, { id: body.id, body });
  }
  const made = {
    path,
    keyFile: `${path}.key`,
    database,
    accountId,
    hashing,
    oldKey: source.current().primary,
    created,
  };
  fixtures.push(made);
  return made;
}

/** The ids of the keys in a key file, primary first. */
function fileKeyIds(keyFile: string): string[] {
  return readKeyFile(keyFile).keys.map((key) => key.id);
}

async function responses(f: Fixture): Promise<Map<string, string | null>> {
  const rows = await f.database.db.selectFrom('idempotency_keys').select(['key', 'response']).execute();
  return new Map(rows.map((row) => [row.key, row.response]));
}

/** Every record replays its first response, and every connector reads back, with `keys` alone. */
async function expectAllReplay(f: Fixture, keys: readonly MasterKey[], skip: readonly string[] = []) {
  const box = createSecretBox(ephemeralKeyring(keys));
  const records = createIdempotencyStore(f.database.db, box, f.hashing);
  const store = createConnectorStore(f.database.db, box);
  for (const [key, { id, body }] of f.created) {
    if (skip.includes(key)) continue;
    const i = key.slice('key-'.length);
    expect(
      await records.find({ accountId: f.accountId, apiKeyId: 'key_acme' }, key, `hash-${i}`),
      key,
    ).toEqual({
      kind: 'replay',
      status: 200,
      body,
    });
    expect((await store.get(f.accountId, id))?.params).toEqual({ apiKey: `secret-${i}` });
  }
}

describe('rotateSecrets and idempotency records', () => {
  it('re-seals them under the new key, proves them, and retires the old key from the file', async () => {
    const f = await fixture();
    const before = await responses(f);
    const progress: string[] = [];
    const report = await rotateSecrets(f.database.db, keyringFromFile(f.keyFile, { create: false }).source, {
      ...fast,
      onProgress: ({ kind, done, total }) => progress.push(`${kind} ${done}/${total}`),
    });
    expect(report).toMatchObject({
      newKey: true,
      resealed: COUNT,
      verified: COUNT,
      resealedRecords: COUNT,
      verifiedRecords: COUNT,
      forgottenRecords: 0,
      retiredKeyIds: [f.oldKey.id],
    });
    expect(progress.at(-1)).toBe(`idempotency records ${COUNT}/${COUNT}`);
    expect(progress).toContain(`connectors ${COUNT}/${COUNT}`);
    for (const [key, response] of await responses(f)) {
      expect(response?.startsWith(`${report.keyId}|`), key).toBe(true);
      expect(response).not.toBe(before.get(key));
    }
    expect(fileKeyIds(f.keyFile)).toEqual([report.keyId]);
    expect(await keyIdsInUse(f.database.db)).toEqual([report.keyId]);
    // The old key is gone from everywhere: the new one alone replays and reads everything.
    const newKey = keyringFromFile(f.keyFile, { create: false }).source.current().primary;
    await expectAllReplay(f, [newKey]);
  });

  it('with PLUGBOARD_MASTER_KEY: re-seals records even when every connector is done already', async () => {
    const f = await fixture();
    const newKey = generateMasterKey();
    const env = keyringFromEnvironment(encodeMasterKey(newKey), encodeMasterKey(f.oldKey));
    // Connectors re-sealed by an earlier version that left the records alone.
    const connectorsOnly = createSecretBox(env);
    for (const { id } of f.created.values()) {
      const row = await f.database.db
        .selectFrom('connectors')
        .select(['type', 'secrets', 'secret_key_id'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const sealed = connectorsOnly.seal(
        id,
        row.type,
        connectorsOnly.open(id, row.type, { sealed: row.secrets ?? '', keyId: row.secret_key_id ?? '' }),
      );
      await f.database.db
        .updateTable('connectors')
        .set({ secrets: sealed.sealed, secret_key_id: sealed.keyId })
        .where('id', '=', id)
        .execute();
    }
    expect(await keyIdsInUse(f.database.db)).toEqual([newKey.id, f.oldKey.id].sort());

    const report = await rotateSecrets(f.database.db, env, fast);
    expect(report).toMatchObject({ resealed: 0, resealedRecords: COUNT, verifiedRecords: COUNT });
    expect(report.retiredKeyIds).toEqual([f.oldKey.id]);
    await expectAllReplay(f, [newKey]);
    // Again with the old key still given: nothing to re-seal, the same advice, no error.
    expect(await rotateSecrets(f.database.db, env, fast)).toMatchObject({ resealed: 0, resealedRecords: 0 });
  });

  it('deletes expired records and records no configured key opens; leaves running claims alone', async () => {
    const f = await fixture();
    const { db } = f.database;
    const expired = new Date(Date.now() - IDEMPOTENCY_TTL_MS - 60_000).toISOString();
    await db
      .updateTable('idempotency_keys')
      .set({ created_at: expired })
      .where('key', '=', 'key-0')
      .execute();
    // Sealed with a key that was dropped before this version re-sealed records.
    const dropped = createSecretBox(ephemeralKeyring()).seal('x', 'response', { response: '{}' });
    await db
      .updateTable('idempotency_keys')
      .set({ response: `${dropped.keyId}|${dropped.sealed}` })
      .where('key', '=', 'key-1')
      .execute();
    await db
      .updateTable('idempotency_keys')
      .set({ response: 'not a sealed response' })
      .where('key', '=', 'key-2')
      .execute();
    await db
      .insertInto('idempotency_keys')
      .values({
        account_id: f.accountId,
        key: 'running',
        request_hash: 'h',
        state: 'running',
        response_status: null,
        response: null,
        created_at: new Date().toISOString(),
      })
      .execute();

    const report = await rotateSecrets(db, keyringFromFile(f.keyFile, { create: false }).source, fast);
    expect(report).toMatchObject({
      resealedRecords: COUNT - 3,
      verifiedRecords: COUNT - 3,
      forgottenRecords: 3,
    });
    const left = await responses(f);
    expect([...left.keys()].sort()).toEqual(
      [
        'running',
        ...[...f.created.keys()].filter((key) => !['key-0', 'key-1', 'key-2'].includes(key)),
      ].sort(),
    );
    expect(left.get('running')).toBeNull();
    expect(fileKeyIds(f.keyFile)).toEqual([report.keyId]);
    await expectAllReplay(
      f,
      [keyringFromFile(f.keyFile, { create: false }).source.current().primary],
      ['key-0', 'key-1', 'key-2'],
    );
  });
});

describe('rotateSecrets while servers write', () => {
  /** A source that runs `during` on its `at`-th use (rotate's box uses it once per open and once per seal). */
  function interceptedAt(source: KeyringSource, at: number, during: () => void): KeyringSource {
    let used = 0;
    return {
      description: source.description,
      ...(source.file === undefined ? {} : { file: source.file }),
      reload: () => source.reload(),
      current() {
        if (++used === at) during();
        return source.current();
      },
    };
  }

  it('holds no write lock while it seals, and a write between its read and its update wins', async () => {
    const f = await fixture();
    const [first] = [...f.created.values()];
    if (!first) throw new Error('no connector');
    const staleServer = createSecretBox(ephemeralKeyring([f.oldKey]));
    const raw = new SqliteDatabase(f.path, { timeout: 0 });
    let wrote = false;
    try {
      // Half-way through sealing the first batch (the first row is read, not yet updated): a
      // server writes the first row. With timeout 0 this throws SQLITE_BUSY if rotate held the lock.
      const source = interceptedAt(keyringFromFile(f.keyFile, { create: false }).source, 5, () => {
        const sealed = staleServer.seal(first.id, 'github', { apiKey: 'written by a server' });
        raw
          .prepare('update connectors set secrets = ?, secret_key_id = ? where id = ?')
          .run(sealed.sealed, sealed.keyId, first.id);
        wrote = true;
      });
      const report = await rotateSecrets(f.database.db, source, fast);
      expect(wrote).toBe(true);
      // Not overwritten with the value read before the write; re-sealed by a later pass instead.
      expect(report.verified).toBe(COUNT);
      expect(await keyIdsInUse(f.database.db)).toEqual([report.keyId]);
      const newKey = keyringFromFile(f.keyFile, { create: false }).source.current().primary;
      const store = createConnectorStore(f.database.db, createSecretBox(ephemeralKeyring([newKey])));
      expect((await store.get(f.accountId, first.id))?.params).toEqual({ apiKey: 'written by a server' });
    } finally {
      raw.close();
    }
  });

  it('waits for servers to see the new key file; one that still holds the old key keeps working after it is retired', async () => {
    const f = await fixture();
    const { db } = f.database;
    // Two servers started before the rotation: one writes during it, one stays idle.
    const busy = createConnectorStore(
      db,
      createSecretBox(keyringFromFile(f.keyFile, { create: false }).source),
    );
    const idleSource = keyringFromFile(f.keyFile, { create: false }).source;
    const idle = createConnectorStore(db, createSecretBox(idleSource));
    const source = keyringFromFile(f.keyFile, { create: false }).source;

    const written: Promise<string>[] = [];
    const started = Date.now();
    const report = await rotateSecrets(db, source, {
      batchSize: 5,
      pauseMs: 0,
      onProgress: () => {
        // Right after the new key file: the busy server has not looked at the file yet.
        written.push(
          busy
            .create(f.accountId, actor, {
              type: github,
              name: `w${written.length}`,
              params: { apiKey: 'w' },
            })
            .then((created) => created.id),
        );
      },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(SETTLE_MS);
    const ids = await Promise.all(written);
    expect(ids.length).toBeGreaterThan(0);
    expect(report.verified).toBe(COUNT + ids.length);
    expect(report.retiredKeyIds).toEqual([f.oldKey.id]);
    expect(fileKeyIds(f.keyFile)).toEqual([report.keyId]);
    expect(await keyIdsInUse(db)).toEqual([report.keyId]);

    // The idle server still holds only the old key: it reads the new one in when it needs it.
    for (const { id } of f.created.values())
      expect((await idle.get(f.accountId, id))?.params.apiKey).toMatch(/^secret-/);
    const late = await idle.create(f.accountId, actor, {
      type: github,
      name: 'late',
      params: { apiKey: 'l' },
    });
    const { secret_key_id } = await db
      .selectFrom('connectors')
      .select('secret_key_id')
      .where('id', '=', late.id)
      .executeTakeFirstOrThrow();
    expect(secret_key_id).toBe(report.keyId);
    for (const id of ids) expect((await busy.get(f.accountId, id))?.params).toEqual({ apiKey: 'w' });
  }, 20_000);

  it('fails, rather than report, when a server keeps sealing with the old key', async () => {
    const f = await fixture();
    const newKey = generateMasterKey();
    const env = keyringFromEnvironment(encodeMasterKey(newKey), encodeMasterKey(f.oldKey));
    // A server that was not restarted with the new PLUGBOARD_MASTER_KEY.
    const notRestarted = createConnectorStore(f.database.db, createSecretBox(ephemeralKeyring([f.oldKey])));
    let stop = false;
    let n = 0;
    const writer = (async () => {
      while (!stop) {
        await notRestarted.create(f.accountId, actor, {
          type: github,
          name: `n${n++}`,
          params: { apiKey: 'n' },
        });
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    try {
      const error = await rotateSecrets(f.database.db, env, { ...fast, settleMs: 30 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MasterKeyError);
      expect((error as Error).message).toMatch(/a server still seals with it/);
      expect((error as Error).message).toContain(newKey.id);
      expect((error as Error).message).not.toContain(encodeMasterKey(newKey));
    } finally {
      stop = true;
      await writer;
    }
  });
});
