import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { earlierFingerprint } from '../../src/http/idempotency.js';
import { ephemeralKeyring } from '../../src/secrets/keyring.js';
import { createSecretBox } from '../../src/secrets/secret-box.js';
import { upgradeStoredRecords } from '../../src/store/idempotency-upgrade.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validBody } from '../helpers.js';

const jira = typeOf('jira');
let t: TestContext;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(() => t.close());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  t.call('POST', '/api/connectors', { body, headers });

describe('the ETag is of the representation', () => {
  it('differs between the masked and the revealed view of one version', async () => {
    const { id } = json<Connector>(await post(validBody(jira, 'two views')));
    const asWriter = (await t.call('GET', `/api/connectors/${id}`)).headers.etag;
    const asReader = (await t.call('GET', `/api/connectors/${id}`, { key: t.keys.read })).headers.etag;
    expect(asWriter).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(asReader).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(asReader).not.toBe(asWriter);
  });

  it('changes when a check result is recorded, and a PUT with the old tag gets 412', async () => {
    const created = await post(validBody(jira, 'checked'));
    const connector = json<Connector>(created);
    const before = created.headers.etag as string;
    // What a check records (POST …/check against a target): only lastCheck moves, not the version.
    const lastCheck = {
      ok: false,
      status: 'unreachable',
      message: 'no answer',
      latencyMs: 5,
      checkedAt: new Date().toISOString(),
    };
    await t.database.db
      .updateTable('connectors')
      .set({ last_check: JSON.stringify(lastCheck) })
      .where('id', '=', connector.id)
      .execute();
    const read = await t.call('GET', `/api/connectors/${connector.id}`);
    expect(json<Connector>(read).lastCheck?.status).toBe('unreachable');
    expect(read.headers.etag).not.toBe(before);
    const stale = await t.call('PUT', `/api/connectors/${connector.id}`, {
      body: validBody(jira, 'checked', 'v2'),
      headers: { 'if-match': before },
    });
    expect(stale.statusCode).toBe(412);
    expect(stale.headers.etag).toBe(read.headers.etag);
  });

  it('answers a stale If-Match with 412 before it validates the body (RFC 9110 13.2.1)', async () => {
    const { id } = json<Connector>(await post(validBody(jira, 'stale first')));
    for (const body of [{ name: '', type: 'jira' }, validBody(typeOf('slack'), 'other type')]) {
      const response = await t.call('PUT', `/api/connectors/${id}`, {
        body,
        headers: { 'if-match': '"not-the-current-tag-xxxx"' },
      });
      expect(response.statusCode, response.body).toBe(412);
      expect(json<ErrorResponse>(response).code).toBe('PRECONDITION_FAILED');
    }
  });
});

describe('an If-Match that is not a strong ETag', () => {
  it('is a 412 that says the value matches no version, not that the connector changed', async () => {
    const created = await post(validBody(jira, 'malformed tags'));
    const { id } = json<Connector>(created);
    for (const ifMatch of ['garbage', `W/${created.headers.etag as string}`, '""x']) {
      const put = await t.call('PUT', `/api/connectors/${id}`, {
        body: validBody(jira, 'renamed', 'v2'),
        headers: { 'if-match': ifMatch },
      });
      expect(put.statusCode, put.body).toBe(412);
      const { code, message } = json<ErrorResponse>(put);
      expect(code).toBe('PRECONDITION_FAILED');
      expect(message).toMatch(/is not a strong ETag/);
      expect(message).not.toMatch(/changed since you read it/);
    }
    // A well-formed stale tag still says the connector changed, an empty item in a list included.
    const listed = await t.call('DELETE', `/api/connectors/${id}`, { headers: { 'if-match': '"a",,"b"' } });
    expect(json<ErrorResponse>(listed).message).toMatch(/changed since you read it/);
    const stale = await t.call('DELETE', `/api/connectors/${id}`, { headers: { 'if-match': '"stale"' } });
    expect(json<ErrorResponse>(stale).message).toMatch(/changed since you read it/);
    expect((await t.call('GET', `/api/connectors/${id}`)).body).toBe(created.body);
  });
});

describe('If-None-Match on a write', () => {
  it('answers 412 to PUT and DELETE when it is * or lists the current ETag, and changes nothing', async () => {
    const created = await post(validBody(jira, 'guarded'));
    const { id } = json<Connector>(created);
    const etag = created.headers.etag as string;
    // A weak tag of the same value matches too (If-None-Match compares weakly, RFC 9110 13.1.2).
    for (const ifNoneMatch of ['*', etag, `"other-tag-xxxxxxxxxxxxx", ${etag}`, `W/${etag}`]) {
      const put = await t.call('PUT', `/api/connectors/${id}`, {
        body: validBody(jira, 'renamed', 'v2'),
        headers: { 'if-none-match': ifNoneMatch },
      });
      expect(put.statusCode, put.body).toBe(412);
      expect(json<ErrorResponse>(put).code).toBe('PRECONDITION_FAILED');
      expect(put.headers.etag).toBe(etag);
      const del = await t.call('DELETE', `/api/connectors/${id}`, {
        headers: { 'if-none-match': ifNoneMatch },
      });
      expect(del.statusCode, del.body).toBe(412);
    }
    const read = await t.call('GET', `/api/connectors/${id}`);
    expect(read.body).toBe(created.body);
    const other = await t.call('PUT', `/api/connectors/${id}`, {
      body: validBody(jira, 'renamed', 'v2'),
      headers: { 'if-none-match': '"other-tag-xxxxxxxxxxxxx"' },
    });
    expect(other.statusCode, other.body).toBe(200);
  });
});

describe('the Idempotency-Key fingerprint and forms', () => {
  it('takes the same body with its keys in another order or other whitespace as a retry', async () => {
    const first = await t.call('POST', '/api/connectors', {
      headers: { 'idempotency-key': 'order-1', 'content-type': 'application/json' },
      body: '{"name":"ordered","type":"jira","params":{"url":"https://10.0.0.1/","email":"e","password":"p"}}',
    });
    expect(first.statusCode).toBe(201);
    const reordered = await t.call('POST', '/api/connectors', {
      headers: { 'idempotency-key': 'order-1', 'content-type': 'application/json' },
      body: '{ "params": {"password":"p", "email":"e", "url":"https://10.0.0.1/"},\n "type":"jira", "name":"ordered" }',
    });
    expect(reordered.statusCode, reordered.body).toBe(201);
    expect(reordered.headers['idempotent-replayed']).toBe('true');
    expect(reordered.headers.etag).toBe(first.headers.etag);
    expect(json(reordered)).toEqual(json(first));
  });

  it('still replays a record the previous version fingerprinted (hash of the body as sent)', async () => {
    const body = validBody(jira, 'before the upgrade');
    const first = await post(body, { 'idempotency-key': 'upgrade-1' });
    expect(first.statusCode).toBe(201);
    // As the version before keyed fingerprints stored it, rewritten keyed at the next start.
    await t.database.db
      .updateTable('idempotency_keys')
      .set({ request_hash: earlierFingerprint(body) })
      .where('key', '=', 'upgrade-1')
      .execute();
    const upgraded = await upgradeStoredRecords(t.database.db, createSecretBox(t.keyring), t.hashing);
    expect(upgraded).toEqual({ keyed: 1, bound: 0, forgotten: 0 });
    const retry = await post(body, { 'idempotency-key': 'upgrade-1' });
    expect(retry.statusCode, retry.body).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect((await post(validBody(jira, 'another body'), { 'idempotency-key': 'upgrade-1' })).statusCode).toBe(
      422,
    );
  });

  it('reads the quoted form of the IETF draft as the same key as the bare one', async () => {
    const body = validBody(jira, 'quoted');
    const bare = await post(body, { 'idempotency-key': 'abc-123' });
    const quoted = await post(body, { 'idempotency-key': '"abc-123"' });
    expect(quoted.statusCode).toBe(201);
    expect(quoted.headers['idempotent-replayed']).toBe('true');
    expect(json(quoted)).toEqual(json(bare));
    const spaced = await post(validBody(jira, 'spaced'), { 'idempotency-key': '"with a \\"space\\""' });
    expect(spaced.statusCode).toBe(201);
    const again = await post(validBody(jira, 'spaced'), { 'idempotency-key': '"with a \\"space\\""' });
    expect(again.headers['idempotent-replayed']).toBe('true');
    for (const malformed of ['""', 'bare space', '"tab\tinside"', `"${'x'.repeat(256)}"`]) {
      const response = await post(validBody(jira, 'never'), { 'idempotency-key': malformed });
      expect(response.statusCode, malformed).toBe(400);
      expect(json<ErrorResponse>(response).code).toBe('INVALID_IDEMPOTENCY_KEY');
    }
  });
});

describe('a replay under PLUGBOARD_REVEAL_SECRETS=never', () => {
  it('masks the secrets the first response showed, when they became write-only since', async () => {
    const keyring = ephemeralKeyring();
    const first = await buildTestApp({ shareable: true, keyring });
    const later = await buildTestApp({ sameDatabaseAs: first, revealSecrets: 'never', keyring });
    try {
      const body = validBody(jira, 'revealed once');
      const created = await first.call('POST', '/api/connectors', {
        body,
        headers: { 'idempotency-key': 'reveal-1' },
      });
      expect(json<Connector>(created).params.password).toBe(body.params.password);
      const replay = await later.call('POST', '/api/connectors', {
        body,
        // The same API key: a record is its own (another key would make its own request).
        key: first.keys.write,
        headers: { 'idempotency-key': 'reveal-1' },
      });
      expect(replay.statusCode).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      const shown = json<Connector>(replay);
      expect(shown.id).toBe(json<Connector>(created).id);
      expect(shown.params.password).toBe('********');
      expect(shown.params.email).toBe(body.params.email);
      expect(replay.body).not.toContain(body.params.password);
    } finally {
      await later.close();
      await first.close();
    }
  });
});
