import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorType } from '../../src/connectors/define.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import { SECRET_PLACEHOLDER } from '../../src/connectors/secrets.js';
import { ephemeralKeyring } from '../../src/secrets/keyring.js';
import { createSecretBox } from '../../src/secrets/secret-box.js';
import { createConnectorStore } from '../../src/store/connector-store.js';
import { storedText, testBackend } from '../backend.js';
import {
  buildTestApp,
  type ErrorResponse,
  endpointsAt,
  json,
  type TestContext,
  typeOf,
  validParams,
} from '../helpers.js';

const typesWithSecrets = connectorTypes.filter((type) => type.secretParams.size > 0);

/** Params whose every secret carries `marker`, so that any copy of it can be found. */
function markedParams(type: ConnectorType, marker: string): Record<string, string> {
  const params = validParams(type, 'plain');
  for (const name of type.secretParams) {
    params[name] =
      type.params[name]?.format === 'url'
        ? `https://hooks.example.com/${marker}/${name}`
        : `${marker}-${name}`;
  }
  return params;
}

/**
 * A target that repeats back everything a check sends it: the Authorization header, what a Basic
 * header decodes to, the path and query, as the error message of a 401 (the field checks quote).
 */
async function startEchoTarget(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    const authorization = request.headers.authorization ?? '';
    const basic = /^Basic (.+)$/i.exec(authorization)?.[1];
    const decoded = basic === undefined ? '' : Buffer.from(basic, 'base64').toString('utf8');
    const said = `you sent ${authorization} (${decoded}) to ${request.url ?? ''} with ${request.headers['x-auth-token'] ?? ''}`;
    request.resume();
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ message: said, errorMessages: [said], error: { message: said, data: said } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('no secret leaks: one table over every type with a secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plugboard-leak-'));
  const path = join(dir, 'leak.db');
  let t: TestContext;
  let echo: { url: string; close: () => Promise<void> };
  const markers: string[] = [];
  /** Put where it must be found (a name): proves that the search below can find a marker at all. */
  const control = `CONTROL${randomBytes(6).toString('hex')}`;
  const readKeyBodies: string[] = [];
  const errorBodies: string[] = [];
  const checkBodies: string[] = [];

  beforeAll(async () => {
    echo = await startEchoTarget();
    t = await buildTestApp({
      path,
      checks: {
        allowedTargets: ['127.0.0.1'],
        timeoutMs: 2_000,
        endpoints: endpointsAt((type) => `${echo.url}/${type.id}`),
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Marked params whose URLs all lead to the echo target. */
  function echoedParams(type: ConnectorType, mark: string): Record<string, string> {
    const params = markedParams(type, mark);
    for (const [name, spec] of Object.entries(type.params)) {
      if (spec.format !== 'url') continue;
      params[name] = type.secretParams.has(name)
        ? `${echo.url}/api/webhooks/42/${mark}-${name}?token=${mark}`
        : `${echo.url}/${type.id}`;
    }
    return params;
  }

  function marker(): string {
    const value = `LEAK${randomBytes(6).toString('hex')}`;
    markers.push(value);
    return value;
  }

  async function call(...args: Parameters<TestContext['call']>) {
    const response = await t.call(...args);
    if (args[2]?.key === t.keys.read) readKeyBodies.push(response.body);
    if (response.statusCode >= 400) errorBodies.push(response.body);
    return response;
  }

  it.each(typesWithSecrets.map((type) => [type.id, type] as const))(
    '%s: good and bad requests',
    async (id, type) => {
      const name = `leak ${id}`;
      const params = markedParams(type, marker());
      const created = await call('POST', '/api/connectors', { body: { name, type: id, params } });
      expect(created.statusCode).toBe(201);
      const { id: connectorId } = json<Connector>(created);

      // Reads by a read key: every secret is the placeholder.
      for (const url of [
        `/api/connectors/${connectorId}`,
        `/api/connectors/name/${encodeURIComponent(name)}`,
      ]) {
        const read = json<Connector>(await call('GET', url, { key: t.keys.read }));
        for (const secret of type.secretParams) {
          if (secret in params) expect(read.params[secret]).toBe(SECRET_PLACEHOLDER);
        }
      }
      await call('GET', '/api/connectors?max-results=100', { key: t.keys.read });

      // Updates: a new secret, then the placeholder sent back (keeps it).
      const updatedParams = markedParams(type, marker());
      expect(
        (
          await call('PUT', `/api/connectors/${connectorId}`, {
            body: { name, type: id, params: updatedParams },
          })
        ).statusCode,
      ).toBe(200);
      const masked = Object.fromEntries(
        Object.entries(updatedParams).map(([k, v]) => [k, type.secretParams.has(k) ? SECRET_PLACEHOLDER : v]),
      );
      const kept = await call('PUT', `/api/connectors/${connectorId}`, {
        body: { name, type: id, params: masked },
      });
      expect(json<Connector>(kept).params).toEqual(updatedParams);

      // Bad requests that carry secrets: each rejected, none quoted back.
      const bad = markedParams(type, marker());
      const rejected = [
        await call('POST', '/api/connectors', { body: { name, type: id, params: bad } }), // 409
        await call('POST', '/api/connectors', {
          body: { name: '', type: id, params: { ...bad, extra: bad[[...type.secretParams][0] ?? ''] } },
        }),
        await call('POST', '/api/connectors', { body: { name: 'x', type: 'datadog', params: bad } }),
        // Another type's params (github takes only apiKey: every other name is unknown there).
        await call('PUT', `/api/connectors/${connectorId}`, {
          body: { name, type: id === 'github' ? 'jira' : 'github', params: bad },
        }),
        await call('PUT', `/api/connectors/${connectorId}`, { body: { name: 7, type: id, params: bad } }),
        await call('POST', '/api/connectors', {
          body: `{"name":"broken","type":"${id}","params":${JSON.stringify(bad)}`,
        }),
        await call('POST', '/api/connectors', {
          body: { name: 'by reader', type: id, params: bad },
          key: t.keys.read,
        }),
        await call('GET', `/api/connectors/${connectorId}`, {
          key: `${bad[[...type.secretParams][0] ?? '']}-as-key`,
        }),
      ];
      for (const response of rejected) expect(response.statusCode).toBeGreaterThanOrEqual(400);

      // An idempotent create (its response, with the secrets, is stored sealed), and credential
      // checks against a target that repeats back every credential it is sent.
      const echoed = echoedParams(type, marker());
      const keyed = await call('POST', '/api/connectors', {
        body: { name: `${name} ${control}`, type: id, params: echoed },
        headers: { 'idempotency-key': `leak-${id}` },
      });
      expect(keyed.statusCode).toBe(201);
      const stored = json<Connector>(keyed);
      const checked = await call('POST', `/api/connectors/${stored.id}/check`);
      expect(checked.statusCode).toBe(200);
      checkBodies.push(checked.body);
      const before = await call('POST', '/api/connectors/check', {
        body: { name: 'unsaved', type: id, params: echoedParams(type, marker()) },
      });
      expect(before.statusCode).toBe(200);
      checkBodies.push(before.body);
      await call('GET', `/api/connectors/${stored.id}`, { key: t.keys.read });
    },
  );

  it('leaves no marker in the database files, the logs, read-key responses, error bodies or the audit trail', async () => {
    const audit = await t.call('GET', '/api/audit-events?max-results=100');
    expect(audit.statusCode).toBe(200);
    const stored = await storedText(t.database);
    // SQLite: the live WAL is searched too. PostgreSQL: every row of every table.
    expect(stored.map(([where]) => where)).toContain(
      testBackend === 'sqlite' ? `${path}-wal` : 'table connectors',
    );
    const haystacks: [string, string][] = [
      ...stored,
      ['logs', t.logs.join('\n')],
      ['read-key responses', readKeyBodies.join('\n')],
      ['error responses', errorBodies.join('\n')],
      ['check results', checkBodies.join('\n')],
      ['audit events', audit.body],
    ];
    // The control marker went into names: the search finds it where names are kept.
    const storedAll = stored.map(([, text]) => text).join('\n');
    expect(storedAll.includes(control), 'the control marker in the database').toBe(true);
    expect(audit.body.includes(control), 'the control marker in the audit trail').toBe(true);
    // The checks reached the echo target and failed there (it repeats, it never accepts).
    expect(checkBodies.filter((body) => body.includes('"status":"failed"')).length).toBeGreaterThan(8);
    expect(markers.length).toBeGreaterThan(typesWithSecrets.length * 2);
    expect(t.logs.length).toBeGreaterThan(50);
    for (const [where, text] of haystacks) {
      for (const value of markers) expect(text.includes(value), `${value} found in ${where}`).toBe(false);
    }
  });
});

describe('PLUGBOARD_REVEAL_SECRETS=never (secrets are write-only)', () => {
  const jira = typeOf('jira');
  const keyring = ephemeralKeyring();
  let t: TestContext;
  beforeAll(async () => {
    t = await buildTestApp({ revealSecrets: 'never', keyring });
  });
  afterAll(() => t.close());

  /** What is really stored, read past the API. */
  async function stored(id: string) {
    return createConnectorStore(t.database.db, createSecretBox(keyring)).get(
      (
        await t.database.db
          .selectFrom('connectors')
          .select('account_id')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).account_id,
      id,
    );
  }

  it('masks secrets for write keys too, on every read and on the write responses', async () => {
    const params = { url: 'https://j.example.com', email: 'e@example.com', password: 'hunter2' };
    const created = await t.call('POST', '/api/connectors', {
      body: { name: 'never 1', type: 'jira', params },
    });
    const body = json<Connector>(created);
    expect(body.params).toEqual({ ...params, password: SECRET_PLACEHOLDER });
    const read = json<Connector>(await t.call('GET', `/api/connectors/${body.id}`));
    expect(read.params.password).toBe(SECRET_PLACEHOLDER);
    expect(created.body + JSON.stringify(read)).not.toContain('hunter2');
    expect((await stored(body.id))?.params.password).toBe('hunter2');
  });

  it('keeps the stored secret when a PUT omits it or sends the placeholder, and replaces it when given', async () => {
    const params = { url: 'https://j.example.com', email: 'e@example.com', password: 'first' };
    const { id } = json<Connector>(
      await t.call('POST', '/api/connectors', { body: { name: 'never 2', type: 'jira', params } }),
    );
    const omitted = await t.call('PUT', `/api/connectors/${id}`, {
      body: {
        name: 'never 2',
        type: 'jira',
        params: { url: 'https://j.example.com', email: 'other@example.com' },
      },
    });
    expect(omitted.statusCode).toBe(200);
    expect((await stored(id))?.params).toEqual({
      url: 'https://j.example.com',
      email: 'other@example.com',
      password: 'first',
    });
    await t.call('PUT', `/api/connectors/${id}`, {
      body: { name: 'never 2', type: 'jira', params: { ...params, password: SECRET_PLACEHOLDER } },
    });
    expect((await stored(id))?.params.password).toBe('first');
    await t.call('PUT', `/api/connectors/${id}`, {
      body: { name: 'never 2', type: 'jira', params: { ...params, password: 'second' } },
    });
    expect((await stored(id))?.params.password).toBe('second');
  });

  it('does not keep a stored secret when the URL changes (it would go to the new host)', async () => {
    const params = { url: 'https://j.example.com', email: 'e@example.com', password: 'stay-home' };
    const { id } = json<Connector>(
      await t.call('POST', '/api/connectors', { body: { name: 'never 4', type: 'jira', params } }),
    );
    const moved = { url: 'https://attacker.example.net', email: 'e@example.com' };
    const omitted = await t.call('PUT', `/api/connectors/${id}`, {
      body: { name: 'never 4', type: 'jira', params: moved },
    });
    expect(omitted.statusCode).toBe(400);
    const placeholder = await t.call('PUT', `/api/connectors/${id}`, {
      body: { name: 'never 4', type: 'jira', params: { ...moved, password: SECRET_PLACEHOLDER } },
    });
    expect(placeholder.statusCode).toBe(400);
    expect(placeholder.body).toMatch(/send the secret params again/);
    expect((await stored(id))?.params).toEqual(params);
    const resent = await t.call('PUT', `/api/connectors/${id}`, {
      body: { name: 'never 4', type: 'jira', params: { ...moved, password: 'new-home' } },
    });
    expect(resent.statusCode).toBe(200);
  });

  /** A PUT of `params` (name and type unchanged) to connector `id`. */
  const put = (id: string, name: string, type: string, params: Record<string, string>) =>
    t.call('PUT', `/api/connectors/${id}`, { body: { name, type, params } });

  function expectResendRefusal(response: { statusCode: number; body: string }, secret: string): void {
    expect(response.statusCode).toBe(400);
    const error = JSON.parse(response.body) as ErrorResponse;
    expect(error.message).toMatch(/the URL changed, so the stored secrets are not kept/);
    expect(error.errors).toEqual([
      { field: `/params/${secret}`, message: 'must be sent again when the URL changes' },
    ]);
  }

  it('refuses, rather than drops, an optional stored secret left out of a PUT that changes the URL', async () => {
    const params = { url: 'https://hooks.example.com/a', authorization: 'Bearer keep-me' };
    const { id } = json<Connector>(
      await t.call('POST', '/api/connectors', { body: { name: 'never dyn', type: 'dynamic', params } }),
    );
    const moved = { url: 'https://elsewhere.example.net/a' };
    expectResendRefusal(await put(id, 'never dyn', 'dynamic', moved), 'authorization');
    expectResendRefusal(
      await put(id, 'never dyn', 'dynamic', { ...moved, authorization: SECRET_PLACEHOLDER }),
      'authorization',
    );
    expect((await stored(id))?.params).toEqual(params);
    // Left out without a URL change: kept. Sent empty with the new URL: no value any more (an
    // empty optional param is not set, so it is not stored at all).
    expect((await put(id, 'never dyn', 'dynamic', { url: params.url })).statusCode).toBe(200);
    expect((await stored(id))?.params).toEqual(params);
    expect((await put(id, 'never dyn', 'dynamic', { ...moved, authorization: '' })).statusCode).toBe(200);
    expect((await stored(id))?.params).toEqual(moved);
  });

  it('explains a required secret left out when the URL changes, instead of a bare "is required"', async () => {
    const params = { url: 'https://j.example.com', email: 'e@example.com', password: 'stay' };
    const { id } = json<Connector>(
      await t.call('POST', '/api/connectors', { body: { name: 'never 5', type: 'jira', params } }),
    );
    const response = await put(id, 'never 5', 'jira', {
      url: 'https://j2.example.com',
      email: 'e@example.com',
    });
    expectResendRefusal(response, 'password');
    expect(response.body).not.toContain('stay');
    expect((await stored(id))?.params).toEqual(params);
  });

  it('applies the rule to a URL that is itself secret (zoom_chat)', async () => {
    const params = { url: 'https://team.zoom.us/hook/one', authorization: 'zoom-token' };
    const { id } = json<Connector>(
      await t.call('POST', '/api/connectors', { body: { name: 'never zoom', type: 'zoom_chat', params } }),
    );
    const moved = { url: 'https://team.zoom.us/hook/two' };
    expectResendRefusal(await put(id, 'never zoom', 'zoom_chat', moved), 'authorization');
    expectResendRefusal(
      await put(id, 'never zoom', 'zoom_chat', { ...moved, authorization: SECRET_PLACEHOLDER }),
      'authorization',
    );
    expect((await stored(id))?.params).toEqual(params);
    // The URL left out or sent back as the placeholder is no change: both secrets are kept.
    expect((await put(id, 'never zoom', 'zoom_chat', {})).statusCode).toBe(200);
    expect((await put(id, 'never zoom', 'zoom_chat', { url: SECRET_PLACEHOLDER })).statusCode).toBe(200);
    expect((await stored(id))?.params).toEqual(params);
    expect(
      (await put(id, 'never zoom', 'zoom_chat', { ...moved, authorization: 'new-token' })).statusCode,
    ).toBe(200);
    expect((await stored(id))?.params).toEqual({ ...moved, authorization: 'new-token' });
  });

  it('still requires a secret on create', async () => {
    const response = await t.call('POST', '/api/connectors', {
      body: { name: 'never 3', type: 'jira', params: { url: 'https://j.example.com', email: 'e' } },
    });
    expect(response.statusCode).toBe(400);
    expect(jira.secretParams.has('password')).toBe(true);
  });
});

describe('the placeholder with the default reveal setting', () => {
  let t: TestContext;
  afterEach(() => t.close());

  it('keeps the stored secret when the placeholder comes back, but a left-out required secret is a 400', async () => {
    t = await buildTestApp();
    const params = { url: 'https://j.example.com', email: 'e@example.com', password: 'kept' };
    const { id } = json<Connector>(
      await t.call('POST', '/api/connectors', { body: { name: 'p', type: 'jira', params } }),
    );
    const masked = json<Connector>(await t.call('GET', `/api/connectors/${id}`, { key: t.keys.read }));
    const roundTrip = await t.call('PUT', `/api/connectors/${id}`, {
      body: { name: 'p', type: 'jira', params: masked.params },
    });
    expect(json<Connector>(roundTrip).params.password).toBe('kept');
    const omitted = await t.call('PUT', `/api/connectors/${id}`, {
      body: { name: 'p', type: 'jira', params: { url: params.url, email: params.email } },
    });
    expect(omitted.statusCode).toBe(400);
    expect(json<Connector>(await t.call('GET', `/api/connectors/${id}`)).params.password).toBe('kept');
  });
});

describe('the placeholder on create', () => {
  let t: TestContext;
  afterEach(() => t.close());

  it('is refused, naming the param, with or without an Idempotency-Key: there is no stored secret it stands for', async () => {
    t = await buildTestApp();
    const params = { url: 'https://j.example.com', email: 'e@example.com', password: SECRET_PLACEHOLDER };
    for (const headers of [{}, { 'idempotency-key': 'masked-copy' }] as Record<string, string>[]) {
      const response = await t.call('POST', '/api/connectors', {
        body: { name: 'copied from a read key', type: 'jira', params },
        headers,
      });
      expect(response.statusCode, response.body).toBe(400);
      const body = json<ErrorResponse>(response);
      expect(body.code).toBe('VALIDATION_FAILED');
      expect(body.errors?.map((error) => error.field)).toEqual(['/params/password']);
      expect(body.message).toMatch(/send the secret itself/);
    }
    expect(json<unknown[]>(await t.call('GET', '/api/connectors'))).toEqual([]);
  });
});
