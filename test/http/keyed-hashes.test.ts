import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { earlierFingerprint, fingerprint } from '../../src/http/idempotency.js';
import { createLogger } from '../../src/logger.js';
import { apiKeyDigest, KEYED_PREFIX } from '../../src/secrets/hash-key.js';
import { createSecretBox } from '../../src/secrets/secret-box.js';
import { upgradeStoredRecords } from '../../src/store/idempotency-upgrade.js';
import { createKeyStore } from '../../src/store/key-store.js';
import { upgradeStoredHashes } from '../../src/store/upgrade-hashes.js';
import { storedText } from '../backend.js';
import { buildTestApp, type ErrorResponse, json, type TestContext } from '../helpers.js';

/**
 * What a copy of the database alone gives away (issue 11, finding 2): unkeyed SHA-256 hashes of
 * API keys and of Idempotency-Key request bodies (secrets included) let a word list test guesses
 * offline. Keyed with the hash key, which is sealed with the master key, they do not.
 */
let t: TestContext;
beforeEach(async () => {
  t = await buildTestApp({ shareable: true });
});
afterEach(() => t.close());

const chosenKey = 'dev-key-0123456789';
const body = {
  name: 'ServiceNow prod',
  type: 'servicenow',
  params: { url: 'https://corp.service-now.com', username: 'bot', password: 'Summer2026!' },
};

async function accountId(name: string): Promise<number> {
  const row = await t.database.db
    .selectFrom('accounts')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return row.id;
}

describe('keyed hashes in the database', () => {
  it('store no unkeyed hash of an API key or of a request body that a word list could test', async () => {
    const keys = createKeyStore(t.database.db, t.hashing);
    expect(await keys.ensure('acme', chosenKey, 'chosen by a person')).toBe('created');
    const created = await t.call('POST', '/api/connectors', {
      key: chosenKey,
      body,
      headers: { 'idempotency-key': 'guess-me' },
    });
    expect(created.statusCode).toBe(201);

    const unkeyed = [
      ['the chosen key', apiKeyDigest(chosenKey)],
      ['a generated key', apiKeyDigest(t.keys.write)],
      ['the request body', fingerprint(body)],
      ['the request body as sent', earlierFingerprint(body)],
    ];
    for (const [where, text] of await storedText(t.database)) {
      for (const [what, digest = ''] of unkeyed)
        expect(text.includes(digest), `${what} in ${where}`).toBe(false);
    }
    const hashes = await t.database.db.selectFrom('api_keys').select('key_hash').execute();
    expect(hashes.length).toBeGreaterThan(4);
    expect(hashes.every(({ key_hash }) => key_hash.startsWith(KEYED_PREFIX))).toBe(true);
    const [record] = await t.database.db.selectFrom('idempotency_keys').select('request_hash').execute();
    expect(record?.request_hash.startsWith(KEYED_PREFIX)).toBe(true);
  });

  it('still accept a key stored unkeyed by an earlier version, and rewrite its hash keyed at its first use', async () => {
    const keys = createKeyStore(t.database.db, t.hashing);
    const { id } = await keys.create('acme', 'read', 'made before keyed hashes');
    const legacy = 'pb_made-by-an-earlier-version-0123456789';
    await t.database.db
      .updateTable('api_keys')
      .set({ key_hash: apiKeyDigest(legacy) })
      .where('id', '=', id)
      .execute();
    const stored = () =>
      t.database.db.selectFrom('api_keys').select('key_hash').where('id', '=', id).executeTakeFirstOrThrow();

    expect((await t.call('GET', '/api/connectors', { key: legacy })).statusCode).toBe(200);
    expect((await stored()).key_hash).toBe(t.hashing.apiKey(legacy));
    expect((await t.call('GET', '/api/connectors', { key: legacy })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/connectors', { key: `${legacy}x` })).statusCode).toBe(401);
  });

  it('rewrite every unkeyed key hash at start, without the keys themselves', async () => {
    const keys = createKeyStore(t.database.db, t.hashing);
    const made = [await keys.create('acme', 'write', 'one'), await keys.create('globex', 'read', 'two')];
    for (const { id, secret } of made) {
      await t.database.db
        .updateTable('api_keys')
        .set({ key_hash: apiKeyDigest(secret) })
        .where('id', '=', id)
        .execute();
    }
    const box = createSecretBox(t.keyring);
    await upgradeStoredHashes(t.database.db, keys, box, t.hashing, createLogger('silent'));
    expect(await keys.keyUnkeyedHashes()).toBe(0);
    for (const { secret } of made) {
      expect((await t.call('GET', '/api/connectors', { key: secret })).statusCode).toBe(200);
    }
    // Not left behind in the files either (free space, the WAL).
    for (const [where, text] of await storedText(t.database)) {
      for (const { secret } of made) expect(text.includes(apiKeyDigest(secret)), where).toBe(false);
    }
    // PLUGBOARD_API_KEY stored unkeyed: found, rewritten and kept at start.
    expect(await keys.ensure('default', chosenKey, 'PLUGBOARD_API_KEY')).toBe('created');
    await t.database.db
      .updateTable('api_keys')
      .set({ key_hash: apiKeyDigest(chosenKey) })
      .where('label', '=', 'PLUGBOARD_API_KEY')
      .execute();
    expect(await keys.ensure('default', chosenKey, 'PLUGBOARD_API_KEY')).toBe('present');
    const row = await t.database.db
      .selectFrom('api_keys')
      .select('key_hash')
      .where('label', '=', 'PLUGBOARD_API_KEY')
      .executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(t.hashing.apiKey(chosenKey));
  });

  it('bind the idempotency records of an earlier version to the key that made them and key their fingerprints', async () => {
    const first = await t.call('POST', '/api/connectors', { body, headers: { 'idempotency-key': 'before' } });
    expect(first.statusCode).toBe(201);
    // As the version before stored it: no owner, an unkeyed fingerprint of the body.
    await t.database.db
      .updateTable('idempotency_keys')
      .set({ api_key_id: '', request_hash: fingerprint(body) })
      .where('key', '=', 'before')
      .execute();
    // And one whose response no configured key opens (a key dropped before a rotation re-sealed it).
    await t.database.db
      .insertInto('idempotency_keys')
      .values({
        account_id: await accountId('acme'),
        api_key_id: '',
        key: 'lost',
        request_hash: fingerprint({ lost: true }),
        state: 'done',
        response_status: 200,
        response: '0000000000000000|v1.AAAA.AAAA',
        created_at: new Date().toISOString(),
      })
      .execute();

    const upgrade = () => upgradeStoredRecords(t.database.db, createSecretBox(t.keyring), t.hashing);
    expect(await upgrade()).toEqual({ keyed: 2, bound: 1, forgotten: 1 });
    expect(await upgrade()).toEqual({ keyed: 0, bound: 0, forgotten: 0 });

    const retry = await t.call('POST', '/api/connectors', { body, headers: { 'idempotency-key': 'before' } });
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(json(retry)).toEqual(json(first));
    // Bound to the key that made it: another key of the account has its own namespace.
    const keys = createKeyStore(t.database.db, t.hashing);
    const other = (await keys.create('acme', 'write', 'another')).secret;
    const elsewhere = await t.call('POST', '/api/connectors', {
      key: other,
      body,
      headers: { 'idempotency-key': 'before' },
    });
    expect(elsewhere.statusCode).toBe(409);
    expect(json<ErrorResponse>(elsewhere).code).toBe('NAME_TAKEN');
  });
});
