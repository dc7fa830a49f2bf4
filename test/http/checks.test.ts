import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import type { Params } from '../../src/connectors/checks/types.js';
import { type FakeTarget, loadFixtures } from '../../src/connectors/fixture.js';
import { connectorTypes, type RegisteredType } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import { baseFor, type FakeTargets, paramsFor, type Scenario, startFakeTargets } from '../fake-targets.js';
import {
  buildTestApp,
  CheckApps,
  type ErrorResponse,
  endpointsAt,
  json,
  type TestContext,
  typeOf,
} from '../helpers.js';

// Every registered type, checked against the fake of its system that its fixture declares
// (src/connectors/types/<id>/fixture.ts).

const fixtures = await loadFixtures();
const online = connectorTypes.filter((type) => type.check.kind === 'online');
const offline = connectorTypes.filter((type) => type.check.kind === 'offline');

function targetOf(type: RegisteredType): FakeTarget<Params> {
  const target = fixtures.get(type.id)?.target;
  if (!target) throw new Error(`the fixture of ${type.id}, a checkable type, has no fake target`);
  return target;
}

let fake: FakeTargets;
let t: TestContext;
// Long enough for a loaded CI machine to answer from loopback; the silent server still times out.
const apps = new CheckApps({ allowedTargets: ['127.0.0.1'], timeoutMs: 1_000 });
beforeAll(async () => {
  fake = await startFakeTargets();
  t = await apps.shared();
});
afterAll(async () => {
  await apps.close();
  await fake.close();
});

async function check(body: unknown, app = t): Promise<CheckResult> {
  const response = await app.call('POST', '/api/connectors/check', { body });
  expect(response.statusCode).toBe(200);
  return json<CheckResult>(response);
}

/** Params of `type` that its fake accepts. */
function goodParams(type: RegisteredType): Params {
  return paramsFor(targetOf(type), baseFor(fake, type.id, 'good'), 'good');
}

/** Checks a body of `type` pointed at the fake for a scenario; the params too, to look for them. */
async function checkScenario(type: RegisteredType, scenario: Scenario) {
  const base = baseFor(fake, type.id, scenario);
  const params = paramsFor(targetOf(type), base, scenario);
  const result = await check({ name: 'c', type: type.id, params }, await apps.for(type, base));
  return { params, result };
}

describe.each(online.map((type) => [type.id, type] as const))('checking %s', (_id, type) => {
  it('ok with good credentials', async () => {
    const { result } = await checkScenario(type, 'good');
    expect(result).toMatchObject({ ok: true, status: 'ok', httpStatus: 200 });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(result.checkedAt)).not.toBeNaN();
  });

  it('failed with bad credentials, saying what the target said but not the credential', async () => {
    const { params, result } = await checkScenario(type, 'bad');
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(result.message.length).toBeGreaterThan(10);
    for (const name of type.secretParams) {
      const value = params[name];
      if (value) expect(result.message).not.toContain(value);
    }
  });

  it('failed when the URL is not the service (404), saying what answered', async () => {
    const { result } = await checkScenario(type, 'wrong path');
    expect(result).toMatchObject({ ok: false, status: 'failed', httpStatus: 404 });
    expect(result.message).toMatch(/not found|no .* API|URL looks wrong/i);
    // The reason phrase, and the first line of the HTML page with its tags stripped.
    expect(result.message).toContain('(HTTP 404 Not Found: 404 Not Found)');
  });

  it('unreachable when the server never answers (timeout)', async () => {
    const { result } = await checkScenario(type, 'slow');
    expect(result).toMatchObject({ ok: false, status: 'unreachable' });
    expect(result.message).toMatch(/within the 1000 ms a check may take/);
  });

  it('unreachable when the server drops the connection', async () => {
    const { result } = await checkScenario(type, 'drop');
    expect(result).toMatchObject({ ok: false, status: 'unreachable' });
  });

  const { locked } = targetOf(type);
  if (locked instanceof RegExp) {
    it('a locked account fails, quoting what the target said', async () => {
      const { result } = await checkScenario(type, 'locked');
      expect(result).toMatchObject({ ok: false, status: 'failed' });
      expect(result.message).toMatch(locked);
    });
  } else {
    it(`a locked account is not seen (${locked.unseen}): the check reports ok`, async () => {
      const { result } = await checkScenario(type, 'locked');
      expect(result).toMatchObject({ ok: true, status: 'ok' });
    });
  }
});

describe('what the targets say', () => {
  const jira = typeOf('jira');
  it('Jira: a locked account is reported as such', async () => {
    const { result } = await checkScenario(jira, 'locked');
    expect(result).toMatchObject({ ok: false, status: 'failed', httpStatus: 403 });
    expect(result.message).toMatch(/AUTHENTICATION_DENIED|locked/);
  });

  it('Jira: the target message is quoted', async () => {
    const { result } = await checkScenario(jira, 'bad');
    expect(result.message).toContain(
      'Jira refused the credentials (HTTP 401 Unauthorized: Client must be authenticated',
    );
    expect(result.httpStatus).toBe(401);
  });

  it('Zabbix: a refused token names the JSON-RPC error, message and data', async () => {
    const { result } = await checkScenario(typeOf('zabbix'), 'bad');
    expect(result.message).toContain('Invalid params. Not authorized.');
  });
});

describe('types that cannot be checked', () => {
  it.each(offline.map((type) => [type.id, type] as const))(
    '%s: its example params are not_checkable, with the reason, and no request is made',
    async (id, type) => {
      const before = fake.seen.length;
      const example = fixtures.get(type.id)?.example;
      const result = await check({ name: 'c', type: id, params: example });
      expect(result).toMatchObject({ ok: false, status: 'not_checkable' });
      expect(result.message.length).toBeGreaterThan(20);
      expect(fake.seen.length).toBe(before);
    },
  );

  const refused = offline.flatMap((type) =>
    (fixtures.get(type.id)?.refusedOffline ?? []).map((params) => [type.id, params] as const),
  );
  it.each(refused)('%s with params its offline validation refuses (%j) fails offline', async (id, params) => {
    const before = fake.seen.length;
    const result = await check({ name: 'c', type: id, params });
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(fake.seen.length).toBe(before);
  });
});

describe('POST /api/connectors/{id}/check', () => {
  it('checks the stored connector and keeps the result as lastCheck', async () => {
    const created = json<Connector>(
      await t.call('POST', '/api/connectors', {
        body: { name: 'stored jira', type: 'jira', params: goodParams(typeOf('jira')) },
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
    await check({ name: 'never stored', type: 'jira', params: goodParams(typeOf('jira')) });
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
      checks: {
        allowedTargets: [],
        timeoutMs: 400,
        endpoints: endpointsAt((type) => baseFor(fake, type.id, 'good')),
      },
    });
    try {
      const before = fake.seen.length;
      const response = await strict.call('POST', '/api/connectors/check', {
        body: { name: 'c', type: 'jira', params: goodParams(typeOf('jira')) },
      });
      const result = json<CheckResult>(response);
      expect(result).toMatchObject({ ok: false, status: 'blocked' });
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
      // Checkable exactly when the fixture, written apart from the declaration, has a fake target for it.
      expect(entry.checkable).toBe(fixtures.get(type.id)?.target !== undefined);
      expect(entry.check.length).toBeGreaterThan(10);
    }
  });
});
