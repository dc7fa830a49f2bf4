import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import {
  baseFor,
  type FakeTargets,
  paramsFor as fakeParams,
  type Scenario,
  startFakeTargets,
} from '../fake-targets.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validParams } from '../helpers.js';

let fake: FakeTargets;
let t: TestContext;
/** GitHub's API URL is the app's, not a param: an app per scenario that points it elsewhere. */
const githubApps = new Map<Scenario, TestContext>();
beforeAll(async () => {
  fake = await startFakeTargets();
  // Long enough for a loaded CI machine to answer from loopback; the silent server still times out.
  t = await buildTestApp({
    checks: { allowedTargets: ['127.0.0.1'], timeoutMs: 1_000, endpoints: { github: `${fake.url}/github` } },
  });
});
afterAll(async () => {
  await t.close();
  await Promise.all([...githubApps.values()].map((app) => app.close()));
  await fake.close();
});

function paramsFor(id: string, scenario: Scenario): Record<string, string> {
  return fakeParams(fake, id, scenario);
}

async function appFor(id: string, scenario: Scenario): Promise<TestContext> {
  if (id !== 'github' || scenario === 'good' || scenario === 'bad' || scenario === 'locked') return t;
  const existing = githubApps.get(scenario);
  if (existing) return existing;
  const app = await buildTestApp({
    checks: {
      allowedTargets: ['127.0.0.1'],
      timeoutMs: 1_000,
      endpoints: { github: baseFor(fake, id, scenario) },
    },
  });
  githubApps.set(scenario, app);
  return app;
}

async function check(body: unknown, app = t): Promise<CheckResult> {
  const response = await app.call('POST', '/api/connectors/check', { body });
  expect(response.statusCode).toBe(200);
  return json<CheckResult>(response);
}

const online = connectorTypes.filter((type) => type.check.kind === 'online').map((type) => type.id);

describe.each(online.map((id) => [id]))('checking %s', (id) => {
  it('ok with good credentials', async () => {
    const result = await check({ name: 'c', type: id, params: paramsFor(id, 'good') });
    expect(result).toMatchObject({ ok: true, status: 'ok', httpStatus: 200 });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(result.checkedAt)).not.toBeNaN();
  });

  it('failed with bad credentials, saying what the target said but not the credential', async () => {
    const params = paramsFor(id, 'bad');
    const result = await check({ name: 'c', type: id, params });
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(result.message.length).toBeGreaterThan(10);
    for (const value of [params.password, params.apiKey].filter(Boolean)) {
      expect(result.message).not.toContain(value);
    }
  });

  it('failed when the URL is not the service (404), saying what answered', async () => {
    const app = await appFor(id, 'wrong path');
    const result = await check({ name: 'c', type: id, params: paramsFor(id, 'wrong path') }, app);
    expect(result).toMatchObject({ ok: false, status: 'failed', httpStatus: 404 });
    expect(result.message).toMatch(/not found|no .* API|URL looks wrong/i);
    // The reason phrase, and the first line of the HTML page with its tags stripped.
    expect(result.message).toContain('(HTTP 404 Not Found: 404 Not Found)');
  });

  it('unreachable when the server never answers (timeout)', async () => {
    const app = await appFor(id, 'slow');
    const result = await check({ name: 'c', type: id, params: paramsFor(id, 'slow') }, app);
    expect(result).toMatchObject({ ok: false, status: 'unreachable' });
    expect(result.message).toMatch(/within the 1000 ms a check may take/);
  });

  it('unreachable when the server drops the connection', async () => {
    const app = await appFor(id, 'drop');
    const result = await check({ name: 'c', type: id, params: paramsFor(id, 'drop') }, app);
    expect(result).toMatchObject({ ok: false, status: 'unreachable' });
  });
});

/** What each target says of a locked, suspended, blocked, inactive or expired account (or deleted webhook). */
const LOCKED: Readonly<Record<string, RegExp>> = {
  jira: /AUTHENTICATION_DENIED.*locked/,
  servicenow: /refused the credentials.*User Not Authenticated/,
  zendesk: /refused the credentials \(HTTP 403 Forbidden: Forbidden\)/,
  github: /refused the credentials.*Your account was suspended/,
  topdesk: /refused the credentials.*operator account is blocked/,
  zammad: /refused the credentials.*User is inactive/,
  zabbix: /refused host\.get: Invalid params\. API token expired\./,
  discord: /does not know this webhook.*Unknown Webhook.*deleted/,
};

describe.each(Object.entries(LOCKED))('a locked account on %s', (id, said) => {
  it('fails, quoting what the target said', async () => {
    const result = await check({ name: 'c', type: id, params: paramsFor(id, 'locked') });
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(result.message).toMatch(said);
  });
});

it('covers every checkable type but Autotask, whose zone lookup cannot see a locked account', () => {
  expect(Object.keys(LOCKED).sort()).toEqual(online.filter((id) => id !== 'autotask').sort());
});

describe('what the targets say', () => {
  it('Jira: a locked account is reported as such', async () => {
    const result = await check({ name: 'c', type: 'jira', params: paramsFor('jira', 'locked') });
    expect(result).toMatchObject({ ok: false, status: 'failed', httpStatus: 403 });
    expect(result.message).toMatch(/AUTHENTICATION_DENIED|locked/);
  });

  it('Jira: the target message is quoted', async () => {
    const result = await check({ name: 'c', type: 'jira', params: paramsFor('jira', 'bad') });
    expect(result.message).toContain(
      'Jira refused the credentials (HTTP 401 Unauthorized: Client must be authenticated',
    );
    expect(result.httpStatus).toBe(401);
  });

  it('Zabbix: a refused token names the JSON-RPC error, message and data', async () => {
    const result = await check({ name: 'c', type: 'zabbix', params: paramsFor('zabbix', 'bad') });
    expect(result.message).toContain('Invalid params. Not authorized.');
  });
});

describe('types that cannot be checked', () => {
  const offline = connectorTypes.filter((type) => type.check.kind === 'offline');
  it.each(offline.map((type) => [type.id, type] as const))(
    '%s answers not_checkable with the reason',
    async (id, type) => {
      const result = await check({ name: 'c', type: id, params: validParams(type) });
      if (result.status === 'failed') {
        // the offline validation found the example URL wrong; a proper URL must pass it
        expect(['mattermost', 'zoom_chat', 'dingtalk']).toContain(id);
      } else {
        expect(result).toMatchObject({ ok: false, status: 'not_checkable' });
      }
      expect(result.message.length).toBeGreaterThan(20);
    },
  );

  it.each([
    ['mattermost', { url: 'https://chat.example.com/hooks/xyz123abc' }],
    ['zoom_chat', { url: 'https://integrations.zoom.us/chat/webhooks/incomingwebhook/abc' }],
    ['dingtalk', { url: 'https://oapi.dingtalk.com/robot/send?access_token=abc', secret: 's' }],
  ])('%s with a proper webhook URL is not_checkable, and no request is made', async (id, params) => {
    const before = fake.seen.length;
    const result = await check({ name: 'c', type: id, params });
    expect(result.status).toBe('not_checkable');
    expect(fake.seen.length).toBe(before);
  });

  it.each([
    ['mattermost', { url: 'https://chat.example.com/some/page' }],
    ['zoom_chat', { url: 'https://example.com/webhook' }],
    ['dingtalk', { url: 'https://oapi.dingtalk.com/robot/send', secret: 's' }],
  ])('%s with a URL that is not a webhook URL fails offline', async (id, params) => {
    const result = await check({ name: 'c', type: id, params });
    expect(result).toMatchObject({ ok: false, status: 'failed' });
  });
});

describe('POST /api/connectors/{id}/check', () => {
  it('checks the stored connector and keeps the result as lastCheck', async () => {
    const created = json<Connector>(
      await t.call('POST', '/api/connectors', {
        body: { name: 'stored jira', type: 'jira', params: paramsFor('jira', 'good') },
      }),
    );
    const response = await t.call('POST', `/api/connectors/${created.id}/check`);
    expect(response.statusCode).toBe(200);
    const result = json<CheckResult>(response);
    expect(result.status).toBe('ok');
    const read = json<Connector & { lastCheck?: CheckResult }>(
      await t.call('GET', `/api/connectors/${created.id}`),
    );
    expect(read.lastCheck).toEqual(result);
    expect(read.updatedAt).toBe(created.updatedAt);
    const readByReader = json<Connector & { lastCheck?: CheckResult }>(
      await t.call('GET', `/api/connectors/${created.id}`, { key: t.keys.read }),
    );
    expect(readByReader.lastCheck?.status).toBe('ok');
  });

  it('is 404 for an unknown id or another account, 403 for a read key', async () => {
    const created = json<Connector>(
      await t.call('POST', '/api/connectors', {
        body: { name: 'private', type: 'github', params: { apiKey: 'x' } },
      }),
    );
    expect((await t.call('POST', '/api/connectors/nope/check')).statusCode).toBe(404);
    expect(
      (await t.call('POST', `/api/connectors/${created.id}/check`, { key: t.keys.otherWrite })).statusCode,
    ).toBe(404);
    const forbidden = await t.call('POST', `/api/connectors/${created.id}/check`, { key: t.keys.read });
    expect(forbidden.statusCode).toBe(403);
  });

  it('check before saving stores nothing, and validates the body first', async () => {
    const before = json<Connector[]>(await t.call('GET', '/api/connectors?max-results=100')).length;
    await check({ name: 'never stored', type: 'jira', params: paramsFor('jira', 'good') });
    const invalid = await t.call('POST', '/api/connectors/check', {
      body: { name: 'x', type: 'jira', params: {} },
    });
    expect(invalid.statusCode).toBe(400);
    expect(json<ErrorResponse>(invalid).code).toBe('VALIDATION_FAILED');
    expect(json<Connector[]>(await t.call('GET', '/api/connectors?max-results=100')).length).toBe(before);
  });
});

describe('targets on private addresses are refused by default', () => {
  it('does not call 127.0.0.1 unless PLUGBOARD_ALLOWED_TARGETS allows it', async () => {
    const strict = await buildTestApp({
      checks: { allowedTargets: [], timeoutMs: 400, endpoints: { github: `${fake.url}/github` } },
    });
    try {
      const before = fake.seen.length;
      const response = await strict.call('POST', '/api/connectors/check', {
        body: { name: 'c', type: 'jira', params: paramsFor('jira', 'good') },
      });
      const result = json<CheckResult>(response);
      expect(result).toMatchObject({ ok: false, status: 'failed' });
      expect(result.message).toMatch(/PLUGBOARD_ALLOWED_TARGETS|refused|not allowed|private|loopback/i);
      expect(fake.seen.length).toBe(before);
    } finally {
      await strict.close();
    }
  });
});

describe('GET /api/connector-types', () => {
  it('lists every type with its params and whether it can be checked, for read keys too', async () => {
    const response = await t.call('GET', '/api/connector-types', { key: t.keys.read });
    expect(response.statusCode).toBe(200);
    const catalog =
      json<
        {
          id: string;
          params: { name: string; required: boolean; secret: boolean; format: string }[];
          checkable: boolean;
          check: string;
        }[]
      >(response);
    expect(catalog.map((entry) => entry.id)).toEqual(connectorTypes.map((type) => type.id));
    for (const entry of catalog) {
      const type = typeOf(entry.id);
      expect(entry.params.map((p) => p.name)).toEqual([...type.paramNames]);
      for (const p of entry.params) {
        expect(p.secret).toBe(type.secretParams.has(p.name));
        expect(p.required).toBe(type.requiredParams.includes(p.name));
      }
      expect(entry.checkable).toBe(new Set<string>(online).has(entry.id));
      expect(entry.check.length).toBeGreaterThan(10);
    }
    expect(online.sort()).toEqual([
      'autotask',
      'discord',
      'github',
      'jira',
      'servicenow',
      'topdesk',
      'zabbix',
      'zammad',
      'zendesk',
    ]);
  });
});
