import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { generateMasterKey } from '../../src/secrets/cipher.js';
import { ephemeralKeyring } from '../../src/secrets/keyring.js';
import { createSecretBox } from '../../src/secrets/secret-box.js';
import { createIdempotencyStore, IDEMPOTENCY_TTL_MS } from '../../src/store/idempotency-store.js';
import { createKeyStore } from '../../src/store/key-store.js';
import { rotateSecrets } from '../../src/store/sealed/rotate.js';
import { testBackend } from '../backend.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validBody } from '../helpers.js';

const jira = typeOf('jira');
let t: TestContext;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(() => t.close());

const post = (body: unknown, key?: string, apiKey = t.keys.write) =>
  t.call('POST', '/api/connectors', {
    body,
    key: apiKey,
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });

async function count(apiKey = t.keys.write): Promise<number> {
  return json<unknown[]>(await t.call('GET', '/api/connectors?max-results=100', { key: apiKey })).length;
}

describe('Idempotency-Key on POST /api/connectors', () => {
  it('replays the first response for the same key and body, without a second connector', async () => {
    const body = validBody(jira, 'once');
    const first = await post(body, 'key-1');
    expect(first.statusCode).toBe(201);
    const again = await post(body, 'key-1');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(json(again)).toEqual(json(first));
    expect(await count()).toBe(1);
  });

  it('replays even after the connector changed: the first response, as it was', async () => {
    const body = validBody(jira, 'changes');
    const first = json<Connector>(await post(body, 'key-2'));
    await t.call('PUT', `/api/connectors/${first.id}`, { body: validBody(jira, 'renamed') });
    expect(json(await post(body, 'key-2'))).toEqual(first);
  });

  it('refuses the same key with another body with 422', async () => {
    await post(validBody(jira, 'a'), 'key-3');
    const other = await post(validBody(jira, 'b'), 'key-3');
    expect(other.statusCode).toBe(422);
    expect(json<ErrorResponse>(other).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await count()).toBe(1);
  });

  it('answers 409 to a retry while the first request is still running', async () => {
    const body = validBody(jira, 'concurrent');
    const responses = await Promise.all(Array.from({ length: 8 }, () => post(body, 'key-4')));
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    for (const r of responses) {
      if (r.statusCode === 409) expect(json<ErrorResponse>(r).code).toBe('IDEMPOTENCY_KEY_IN_USE');
      else expect(r.statusCode).toBe(201);
    }
    expect(await count()).toBe(1);
  });

  it.skipIf(testBackend !== 'postgres')(
    'answers 409 IDEMPOTENCY_KEY_IN_USE while another server runs a request with the key (PostgreSQL)',
    async () => {
      const body = validBody(jira, 'running elsewhere');
      const account = await t.database.db
        .selectFrom('accounts')
        .select('id')
        .where('name', '=', 'acme')
        .executeTakeFirstOrThrow();
      const { id: keyId } = await t.database.db
        .selectFrom('api_keys')
        .select('id')
        .where('label', '=', 'test write')
        .executeTakeFirstOrThrow();
      // What another server holds while its create with this key runs: the key's transaction lock.
      let release: () => void = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let locked: () => void = () => {};
      const holding = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const other = t.database.db.transaction().execute(async (trx) => {
        const name = `plugboard:idempotency:${account.id}:${keyId}:key-running`;
        await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ':' || ${name}::text))`.execute(
          trx,
        );
        locked();
        await released;
      });
      await holding;
      try {
        const response = await post(body, 'key-running');
        expect(response.statusCode).toBe(409);
        expect(response.headers['retry-after']).toBe('1');
        expect(json<ErrorResponse>(response).code).toBe('IDEMPOTENCY_KEY_IN_USE');
        expect(await count()).toBe(0);
      } finally {
        release();
        await other;
      }
      // The other server is gone (its transaction ended): the retry creates at once.
      expect((await post(body, 'key-running')).statusCode).toBe(201);
      expect(await count()).toBe(1);
    },
  );

  it('answers in-progress to a second request with the key while the first still runs here', async () => {
    const account = await t.database.db
      .selectFrom('accounts')
      .select('id')
      .where('name', '=', 'acme')
      .executeTakeFirstOrThrow();
    const records = createIdempotencyStore(t.database.db, createSecretBox(ephemeralKeyring()), t.hashing);
    const owner = { accountId: account.id, apiKeyId: 'key_test' };
    let finish: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const first = records.run(owner, 'held', 'hash', async () => {
      started();
      await held;
      return { status: 200, body: { id: 'made once' } };
    });
    await running;
    const second = await records.run(owner, 'held', 'hash', async () => {
      throw new Error('a second request with the key must not run');
    });
    expect(second).toEqual({ kind: 'in-progress' });
    finish();
    expect(await first).toEqual({ kind: 'done', status: 200, body: { id: 'made once' } });
    const third = await records.run(owner, 'held', 'hash', async () => {
      throw new Error('a finished key replays');
    });
    expect(third).toEqual({ kind: 'replay', status: 200, body: { id: 'made once' } });
  });

  it('keeps keys per account: another account with the same key gets its own result', async () => {
    const body = validBody(jira, 'shared key');
    const mine = json<Connector>(await post(body, 'key-5'));
    const theirs = await post(body, 'key-5', t.keys.otherWrite);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(json<Connector>(theirs).id).not.toBe(mine.id);
  });

  it('frees the key when the request failed, so a corrected retry works', async () => {
    const bad = await post({ ...validBody(jira, 'fix me'), name: '' }, 'key-6');
    expect(bad.statusCode).toBe(400);
    const good = await post(validBody(jira, 'fix me'), 'key-6');
    expect(good.statusCode).toBe(201);
    expect(good.headers['idempotent-replayed']).toBeUndefined();
  });

  it('refuses a malformed key with 400', async () => {
    for (const key of ['', 'has space', 'x'.repeat(256), 'ümlaut']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/connectors',
        headers: {
          authorization: `Bearer ${t.keys.write}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        payload: JSON.stringify(validBody(jira, `k ${key.length}`)),
      });
      expect(response.statusCode, JSON.stringify(key)).toBe(400);
      expect(json<ErrorResponse>(response).code).toBe('INVALID_IDEMPOTENCY_KEY');
    }
    expect(await count()).toBe(0);
  });

  it('stores the replayed response sealed: no secret in the table', async () => {
    await post(
      { ...validBody(jira, 'sealed'), params: { ...validBody(jira).params, password: 'IDEMPOTENT-SECRET' } },
      'key-7',
    );
    const rows = await t.database.db.selectFrom('idempotency_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain('IDEMPOTENT-SECRET');
  });

  it('forgets keys after 24 hours, and a running claim an older version left behind at once', async () => {
    const body = validBody(jira, 'old');
    await post(body, 'key-8');
    const old = new Date(Date.now() - IDEMPOTENCY_TTL_MS - 1000).toISOString();
    await t.database.db.updateTable('idempotency_keys').set({ created_at: old }).execute();
    const afterDay = await post(validBody(jira, 'new body, same key'), 'key-8');
    expect(afterDay.statusCode).toBe(201);

    // Versions before this one committed a `running` claim before the create; one left by a
    // server that died blocked retries for a minute. Nothing commits one now, and one found is stale.
    await t.database.db
      .insertInto('idempotency_keys')
      .values({
        account_id: (
          await t.database.db
            .selectFrom('accounts')
            .select('id')
            .where('name', '=', 'acme')
            .executeTakeFirstOrThrow()
        ).id,
        key: 'key-9',
        request_hash: 'whatever',
        state: 'running',
        response_status: null,
        response: null,
        created_at: new Date().toISOString(),
      })
      .execute();
    expect((await post(validBody(jira, 'taken over'), 'key-9')).statusCode).toBe(201);
  });

  it('commits nothing for a request that failed: no claim outlives it', async () => {
    const invalid = { ...validBody(jira, 'broken'), params: {} };
    expect((await post(invalid, 'key-10')).statusCode).toBe(400);
    expect(await t.database.db.selectFrom('idempotency_keys').selectAll().execute()).toEqual([]);
    const taken = await post(validBody(jira, 'taken name'));
    expect(taken.statusCode).toBe(201);
    expect((await post(validBody(jira, 'taken name'), 'key-11')).statusCode).toBe(409);
    expect(await t.database.db.selectFrom('idempotency_keys').selectAll().execute()).toEqual([]);
    expect((await post(validBody(jira, 'free name'), 'key-11')).statusCode).toBe(201);
  });
});

describe('Idempotency-Key records belong to the API key that made them', () => {
  it('gives another write key of the account its own request: never a replay, never a 422 that confirms a guess', async () => {
    const never = await buildTestApp({ revealSecrets: 'never' });
    try {
      const second = (
        await createKeyStore(never.database.db, never.hashing).create('acme', 'write', 'second')
      ).secret;
      const send = (body: unknown, apiKey: string) =>
        never.call('POST', '/api/connectors', { body, key: apiKey, headers: { 'idempotency-key': 'pin-1' } });
      const body = (pin: string) => ({
        name: 'ServiceNow',
        type: 'servicenow',
        params: { url: 'https://corp.service-now.com', username: 'bot', password: pin },
      });
      const first = await send(body('4711'), never.keys.write);
      expect(first.statusCode).toBe(201);

      // Guessing the write-only PIN with the first key's Idempotency-Key: the right guess and a
      // wrong one get the same answer, the second key's own create (the name is taken: 409).
      const right = await send(body('4711'), second);
      const wrong = await send(body('0000'), second);
      for (const answer of [right, wrong]) {
        expect(answer.statusCode, answer.body).toBe(409);
        expect(json<ErrorResponse>(answer).code).toBe('NAME_TAKEN');
        expect(answer.headers['idempotent-replayed']).toBeUndefined();
      }
      expect(json(right)).toEqual(json(wrong));

      // Its own create with the same Idempotency-Key, and its own replay; the first key's stays.
      const own = await send({ ...body('1234'), name: 'ServiceNow 2' }, second);
      expect(own.statusCode).toBe(201);
      const ownAgain = await send({ ...body('1234'), name: 'ServiceNow 2' }, second);
      expect(ownAgain.headers['idempotent-replayed']).toBe('true');
      expect(json(ownAgain)).toEqual(json(own));
      const firstAgain = await send(body('4711'), never.keys.write);
      expect(firstAgain.headers['idempotent-replayed']).toBe('true');
      expect(json(firstAgain)).toEqual(json(first));
      expect((await send(body('9999'), never.keys.write)).statusCode).toBe(422);
    } finally {
      await never.close();
    }
  });
});

describe('Idempotency-Key across a master key rotation', () => {
  it('replays after rotate re-sealed the record and the old key was dropped', async () => {
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const body = validBody(jira, 'rotated');
    const headers = { 'idempotency-key': 'key-rotated' };
    const before = await buildTestApp({ keyring: ephemeralKeyring([oldKey]), shareable: true });
    try {
      const first = await before.call('POST', '/api/connectors', { body, headers });
      expect(first.statusCode).toBe(201);
      // PLUGBOARD_MASTER_KEY=new, PLUGBOARD_PREVIOUS_MASTER_KEYS=old.
      const report = await rotateSecrets(before.database.db, ephemeralKeyring([newKey, oldKey]), {
        settleMs: 0,
        pauseMs: 0,
      });
      expect(report).toMatchObject({
        resealed: 1,
        resealedRecords: 1,
        verifiedRecords: 1,
        resealedHashKey: true,
      });
      expect(report.retiredKeyIds).toEqual([oldKey.id]);
      const [record] = await before.database.db.selectFrom('idempotency_keys').select('response').execute();
      expect(record?.response?.startsWith(`${newKey.id}|`)).toBe(true);

      // The old key dropped: the API key still works (its hash is keyed with the same hash key,
      // re-sealed), and a retry still replays the first response.
      const after = await buildTestApp({ keyring: ephemeralKeyring([newKey]), sameDatabaseAs: before });
      try {
        const again = await after.call('POST', '/api/connectors', { body, headers, key: before.keys.write });
        expect(again.statusCode, again.body).toBe(201);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(json(again)).toEqual(json(first));
      } finally {
        await after.close();
      }
    } finally {
      await before.close();
    }
  });
});

describe('ETag and If-Match', () => {
  it('gives an ETag on GET and PUT that changes with every update', async () => {
    const created = await post(validBody(jira, 'tagged'));
    const { id } = json<Connector>(created);
    const read = await t.call('GET', `/api/connectors/${id}`);
    const etag = read.headers.etag;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(created.headers.etag).toBe(etag);
    expect((await t.call('GET', `/api/connectors/name/tagged`)).headers.etag).toBe(etag);
    const put = await t.call('PUT', `/api/connectors/${id}`, { body: validBody(jira, 'tagged', 'v2') });
    expect(put.headers.etag).not.toBe(etag);
    expect((await t.call('GET', `/api/connectors/${id}`)).headers.etag).toBe(put.headers.etag);
  });

  it('PUT and DELETE with a stale If-Match get 412 and change nothing; the current one works', async () => {
    const { id } = json<Connector>(await post(validBody(jira, 'guarded')));
    const stale = (await t.call('GET', `/api/connectors/${id}`)).headers.etag as string;
    const current = (await t.call('PUT', `/api/connectors/${id}`, { body: validBody(jira, 'guarded', 'v2') }))
      .headers.etag as string;

    const lost = await t.call('PUT', `/api/connectors/${id}`, {
      body: validBody(jira, 'guarded', 'v3'),
      headers: { 'if-match': stale },
    });
    expect(lost.statusCode).toBe(412);
    expect(json<ErrorResponse>(lost).code).toBe('PRECONDITION_FAILED');
    expect(lost.headers.etag).toBe(current);
    const del = await t.call('DELETE', `/api/connectors/${id}`, { headers: { 'if-match': stale } });
    expect(del.statusCode).toBe(412);
    expect(json<Connector>(await t.call('GET', `/api/connectors/${id}`)).params.email).toBe('email-v2');

    const ok = await t.call('PUT', `/api/connectors/${id}`, {
      body: validBody(jira, 'guarded', 'v3'),
      headers: { 'if-match': `"nope", ${current}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(
      (await t.call('DELETE', `/api/connectors/${id}`, { headers: { 'if-match': `W/${ok.headers.etag}` } }))
        .statusCode,
    ).toBe(412);
    expect(
      (await t.call('DELETE', `/api/connectors/${id}`, { headers: { 'if-match': '*' } })).statusCode,
    ).toBe(204);
  });

  it('of two concurrent writers with the same If-Match, exactly one wins', async () => {
    const { id } = json<Connector>(await post(validBody(jira, 'race')));
    const etag = (await t.call('GET', `/api/connectors/${id}`)).headers.etag as string;
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((v) =>
        t.call('PUT', `/api/connectors/${id}`, {
          body: validBody(jira, 'race', v),
          headers: { 'if-match': etag },
        }),
      ),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 412, 412, 412]);
  });

  it('without If-Match the last write wins, as ilert clients expect', async () => {
    const { id } = json<Connector>(await post(validBody(jira, 'lww')));
    await t.call('PUT', `/api/connectors/${id}`, { body: validBody(jira, 'lww', 'one') });
    const second = await t.call('PUT', `/api/connectors/${id}`, { body: validBody(jira, 'lww', 'two') });
    expect(second.statusCode).toBe(200);
  });
});
