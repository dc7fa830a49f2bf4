import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { CREDENTIALS, GOOD, loadFixtures } from '../../src/connectors/fixture.js';
import { INTEGRATION_CODE } from '../../src/connectors/types/autotask/fixture.js';
import { usesBearerHeader } from '../../src/connectors/types/zabbix/index.js';
import { type FakeTargets, startFakeTargets } from '../fake-targets.js';
import { buildTestApp, endpointsAt, json, type TestContext, typeOf } from '../helpers.js';

// What particular targets say, and how the check reads it: Zabbix versions, Autotask zones, GitHub's
// rate limit, credentials HTTP cannot carry, oversized answers, and one deadline for a whole check.

const fixtures = await loadFixtures();
let fake: FakeTargets;
let t: TestContext;
beforeAll(async () => {
  fake = await startFakeTargets();
  t = await buildTestApp({
    checks: {
      allowedTargets: ['127.0.0.1'],
      timeoutMs: 1_000,
      endpoints: endpointsAt((type) => `${fake.url}/${type.id}`),
    },
  });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

async function check(type: string, params: Readonly<Record<string, string>>): Promise<CheckResult> {
  const response = await t.call('POST', '/api/connectors/check', { body: { name: 'c', type, params } });
  expect(response.statusCode, response.body).toBe(200);
  return json<CheckResult>(response);
}

describe('Zabbix: the token where each version takes it', () => {
  it.each([
    ['6.0 (auth member)', 'zabbix@6.0.36', '6.0.36'],
    ['7.0 (Authorization header, name matched case-sensitively)', 'zabbix', '7.0.0'],
    ['7.2 (auth member refused)', 'zabbix@7.2.6', '7.2.6'],
  ])('%s: accepted', async (_name, path, version) => {
    const result = await check('zabbix', { url: `${fake.url}/${path}`, apiKey: GOOD.token });
    expect(result).toMatchObject({ ok: true, status: 'ok', httpStatus: 200 });
    expect(result.message).toBe(`Zabbix ${version} accepted the API token`);
  });

  it.each([
    ['zabbix@6.0.36', 'Invalid params. Session terminated, re-login, please.'],
    ['zabbix', 'Invalid params. Not authorized.'],
    ['zabbix@7.2.6', 'Invalid params. Not authorized.'],
  ])('%s: a wrong token is refused, quoting message and data', async (path, said) => {
    const result = await check('zabbix', { url: `${fake.url}/${path}`, apiKey: 'wrong-token' });
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(result.message).toBe(`Zabbix refused host.get: ${said}`);
  });

  it('reads the version: the header from 6.4 on', () => {
    expect(['5.4.12', '6.0.36', '6.2.9'].map(usesBearerHeader)).toEqual([false, false, false]);
    expect(['6.4.0', '7.0.0', '7.2.6', '10.0', 'unknown'].map(usesBearerHeader)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
  });
});

describe('Autotask: the zone', () => {
  const params = (email: string, base = `${fake.url}/autotask`) => ({
    url: base,
    email,
    password: 'p4ssw0rd-x',
  });

  it('is ok when the user lives in the zone of the URL', async () => {
    const result = await check('autotask', params(GOOD.user));
    expect(result).toMatchObject({ ok: true, status: 'ok' });
  });

  it('fails naming the right zone when the user lives in another one', async () => {
    const result = await check('autotask', params(GOOD.otherZoneUser));
    expect(result).toMatchObject({ ok: false, status: 'failed', httpStatus: 200 });
    expect(result.message).toContain('set the URL to https://webservices2.autotask.net');
  });

  it('tells an unknown user from a wrong URL', async () => {
    const unknown = await check('autotask', params('nobody@example.com'));
    expect(unknown.message).toMatch(
      /^Autotask does not know this user \(HTTP 404 Not Found: Zone information/,
    );
    const wrong = await check('autotask', params(GOOD.user, `${fake.url}/nothing-here`));
    expect(wrong.message).toMatch(/no Autotask REST API at this URL .*the URL looks wrong/);
    expect(wrong.message).not.toMatch(/does not know this user/);
  });

  it('with an integration code, checks the secret too, without quoting it', async () => {
    const good = await check('autotask', {
      ...params(GOOD.user),
      password: GOOD.password,
      integrationCode: INTEGRATION_CODE,
    });
    expect(good).toMatchObject({ ok: true, status: 'ok', message: 'Autotask accepted the credentials' });
    const refused = await check('autotask', { ...params(GOOD.user), integrationCode: INTEGRATION_CODE });
    expect(refused).toMatchObject({ ok: false, status: 'failed', httpStatus: 401 });
    expect(refused.message).toMatch(/^Autotask refused the credentials/);
    expect(refused.message).not.toContain(INTEGRATION_CODE);
    const without = await check('autotask', params(GOOD.user));
    expect(without.message).toContain('add the param integrationCode');
  });
});

describe('what a failure is called', () => {
  it('GitHub: an exhausted rate limit is not refused credentials', async () => {
    const result = await check('github', { apiKey: GOOD.rateLimitedToken });
    expect(result).toMatchObject({ ok: false, status: 'failed', httpStatus: 403 });
    expect(result.message).toMatch(
      /^GitHub is rate limiting .*API rate limit exceeded.*try again after 22:13 UTC$/,
    );
    expect(result.message).not.toMatch(/refused/);
  });

  it('Discord: a deleted webhook is named as such, not as a wrong base URL', async () => {
    const result = await check('discord', { url: `${fake.url}/discord/api/webhooks/42/${GOOD.lockedToken}` });
    expect(result).toMatchObject({ ok: false, status: 'failed', httpStatus: 404 });
    expect(result.message).toMatch(/Unknown Webhook.*deleted/);
    expect(result.message).not.toMatch(/base URL/);
  });

  it.each([
    ['github', 'abc\ndef'],
    ['github', 'tok€n123'],
    ['zammad', 'abc\r\ndef'],
    ['zabbix', 'tok€n123'],
  ])('%s: a credential HTTP headers cannot carry (%j) fails, without quoting it', async (type, apiKey) => {
    const before = fake.seen.length;
    const target = fixtures.get(typeOf(type).id)?.target;
    const params = target?.params(`${fake.url}/${type}`, { ...CREDENTIALS.good, token: apiKey }) ?? {};
    expect(Object.values(params)).toContain(apiKey);
    const result = await check(type, params);
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(result.message).toMatch(/^the credential holds characters that cannot be sent in an HTTP header/);
    expect(result.message).not.toContain(apiKey);
    // Zabbix asked for its version first; the credential itself was never sent.
    expect(fake.seen.length - before).toBe(type === 'zabbix' ? 1 : 0);
  });

  it('an answer over 1 MiB fails: the target answered, with something else than its API', async () => {
    const result = await check('jira', {
      url: `${fake.url}/huge/jira`,
      email: GOOD.user,
      password: 'x-secret',
    });
    expect(result).toMatchObject({ ok: false, status: 'failed' });
    expect(result.message).toMatch(/answered with more than 1 MiB.*check the URL/);
  });
});

describe('one deadline for the whole check', () => {
  it.each([
    ['topdesk', { username: GOOD.user, password: GOOD.password }],
    ['zabbix', { apiKey: GOOD.token }],
  ])('%s: two calls of 800 ms each do not fit in the 1000 ms of a check', async (type, credentials) => {
    const result = await check(type, { url: `${fake.url}/delay/800/${type}`, ...credentials });
    expect(result).toMatchObject({ ok: false, status: 'unreachable' });
    expect(result.message).toMatch(/within the 1000 ms a check may take/);
    // Each call alone was within 1000 ms; the second one was ended by the check's deadline.
    expect(result.latencyMs).toBeLessThan(1_500);
  });

  it.each([
    ['topdesk', { username: GOOD.user, password: GOOD.password }],
    ['zabbix', { apiKey: GOOD.token }],
  ])('%s: two calls of 200 ms each do', async (type, credentials) => {
    const result = await check(type, { url: `${fake.url}/delay/200/${type}`, ...credentials });
    expect(result).toMatchObject({ ok: true, status: 'ok' });
  });
});
