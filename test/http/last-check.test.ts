import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD } from '../../src/connectors/fixture.js';
import type { Connector } from '../../src/connectors/schemas.js';
import { type FakeTargets, startFakeTargets } from '../fake-targets.js';
import { buildTestApp, endpointsAt, json, type TestContext } from '../helpers.js';

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

/** A Jira connector with good credentials on the fake, checked once: its lastCheck says ok. */
async function checkedJira(name: string): Promise<Connector> {
  const params = { url: `${fake.url}/jira`, email: GOOD.user, password: GOOD.password };
  const created = json<Connector>(
    await t.call('POST', '/api/connectors', { body: { name, type: 'jira', params } }),
  );
  expect((await t.call('POST', `/api/connectors/${created.id}/check`)).statusCode).toBe(200);
  const read = json<Connector>(await t.call('GET', `/api/connectors/${created.id}`));
  expect(read.lastCheck?.status).toBe('ok');
  return read;
}

describe('lastCheck after an update', () => {
  it('is dropped when a param changes: the check said nothing about the new URL or credentials', async () => {
    for (const change of [
      { url: 'https://other.example.net' },
      { password: 'a-new-token' },
      { email: 'someone-else@example.com' },
    ]) {
      const checked = await checkedJira(`changed ${Object.keys(change)[0]}`);
      const put = await t.call('PUT', `/api/connectors/${checked.id}`, {
        body: { name: checked.name, type: 'jira', params: { ...checked.params, ...change } },
      });
      expect(put.statusCode).toBe(200);
      expect(json<Connector>(put).lastCheck).toBeUndefined();
      const read = json<Connector>(
        await t.call('GET', `/api/connectors/${checked.id}`, { key: t.keys.read }),
      );
      expect(read.lastCheck).toBeUndefined();
    }
  });

  it('is kept by a rename or a PUT of the same params', async () => {
    const checked = await checkedJira('to be renamed');
    const renamed = await t.call('PUT', `/api/connectors/${checked.id}`, {
      body: { name: 'renamed', type: 'jira', params: checked.params },
    });
    expect(renamed.statusCode).toBe(200);
    expect(json<Connector>(renamed).lastCheck).toEqual(checked.lastCheck);
  });
});
