import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import type { AuditEvent } from '../../src/store/audit-store.js';
import { buildTestApp, type ErrorResponse, json, type TestContext } from '../helpers.js';

let t: TestContext;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(() => t.close());

const jira = (password: string, name = 'Jira') => ({
  name,
  type: 'jira',
  params: { url: 'https://j.example.com', email: 'e@example.com', password },
});

async function events(key = t.keys.write, query = ''): Promise<AuditEvent[]> {
  const response = await t.call('GET', `/api/audit-events${query}`, { key });
  expect(response.statusCode).toBe(200);
  return json<AuditEvent[]>(response);
}

describe('GET /api/audit-events', () => {
  it('records create, update and delete with the key, the connector and the changed field names, newest first', async () => {
    const created = json<Connector>(await t.call('POST', '/api/connectors', { body: jira('first') }));
    await t.call('PUT', `/api/connectors/${created.id}`, { body: jira('second', 'Jira renamed') });
    await t.call('PUT', `/api/connectors/${created.id}`, { body: jira('second', 'Jira renamed') });
    await t.call('DELETE', `/api/connectors/${created.id}`);

    const trail = await events();
    expect(trail.map((e) => e.action)).toEqual(['delete', 'update', 'update', 'create']);
    const [deleted, unchanged, updated, create] = trail;
    expect(create).toMatchObject({
      connectorId: created.id,
      connectorName: 'Jira',
      connectorType: 'jira',
      keyLabel: 'test write',
      fields: ['type', 'name', 'params.email', 'params.password', 'params.url'],
    });
    expect(create?.keyId).toMatch(/^key_/);
    expect(updated?.fields).toEqual(['name', 'params.password']);
    expect(unchanged?.fields).toEqual([]);
    expect(deleted).toMatchObject({ connectorName: 'Jira renamed', fields: [] });
    for (const event of trail) expect(Date.parse(event.at)).not.toBeNaN();
    const text = JSON.stringify(trail);
    expect(text).not.toContain('first');
    expect(text).not.toContain('second');
  });

  it('records nothing for a rejected request', async () => {
    await t.call('POST', '/api/connectors', { body: jira('x') });
    await t.call('POST', '/api/connectors', { body: jira('y') }); // 409
    await t.call('POST', '/api/connectors', { body: { ...jira('z'), name: '' } }); // 400
    await t.call('DELETE', '/api/connectors/nope'); // 404
    expect(await events()).toHaveLength(1);
  });

  it('shows only the own account, pages, and refuses read keys', async () => {
    for (let i = 0; i < 5; i++) await t.call('POST', '/api/connectors', { body: jira('p', `c${i}`) });
    await t.call('POST', '/api/connectors', { body: jira('p', 'other'), key: t.keys.otherWrite });
    expect(await events()).toHaveLength(5);
    expect((await events(t.keys.otherWrite)).map((e) => e.connectorName)).toEqual(['other']);
    const page = await events(t.keys.write, '?start-index=1&max-results=2');
    expect(page.map((e) => e.connectorName)).toEqual(['c3', 'c2']);
    expect((await t.call('GET', '/api/audit-events?max-results=0')).statusCode).toBe(400);
    const forbidden = await t.call('GET', '/api/audit-events', { key: t.keys.read });
    expect(forbidden.statusCode).toBe(403);
    expect(json<ErrorResponse>(forbidden).code).toBe('FORBIDDEN');
  });
});
