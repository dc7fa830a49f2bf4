import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validBody } from '../helpers.js';

const jira = typeOf('jira');

const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let t: TestContext;
beforeEach(async () => {
  t = await buildTestApp();
});
afterEach(() => t.close());

async function create(body: unknown = validBody(jira)): Promise<Connector> {
  const response = await t.call('POST', '/api/connectors', { body });
  expect(response.statusCode).toBe(201);
  return json<Connector>(response);
}

async function listAll(): Promise<Connector[]> {
  return json<Connector[]>(await t.call('GET', '/api/connectors?max-results=100'));
}

describe('POST /api/connectors', () => {
  it('returns 200 and the stored connector with server-set id and timestamps', async () => {
    const body = validBody(jira, 'Jira prod');
    const created = await create(body);
    expect(Object.keys(created).sort()).toEqual(['createdAt', 'id', 'name', 'params', 'type', 'updatedAt']);
    expect(created).toMatchObject({ name: 'Jira prod', type: 'jira', params: body.params });
    expect(created.id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(created.createdAt).toMatch(isoUtc);
    expect(created.updatedAt).toBe(created.createdAt);
    expect(Math.abs(Date.parse(created.createdAt) - Date.now())).toBeLessThan(5_000);
  });

  it('ignores id, createdAt and updatedAt in the body', async () => {
    const created = await create({
      ...validBody(jira),
      id: 'chosen-by-client',
      createdAt: '2000-01-01T00:00:00.000Z',
      updatedAt: 12,
    });
    expect(created.id).not.toBe('chosen-by-client');
    expect(created.createdAt).not.toBe('2000-01-01T00:00:00.000Z');
    expect(created.updatedAt).toBe(created.createdAt);
  });

  it('answers 200 when configured so (the literal answer of the published page)', async () => {
    const t200 = await buildTestApp({ createStatus: 200 });
    try {
      const response = await t200.call('POST', '/api/connectors', { body: validBody(jira) });
      expect(response.statusCode).toBe(200);
      expect(json<Connector>(response).name).toBe(validBody(jira).name);
    } finally {
      await t200.close();
    }
  });

  it('refuses a second connector with the same name in the account with 409 naming it', async () => {
    await create(validBody(jira, 'Shared name'));
    const response = await t.call('POST', '/api/connectors', {
      body: { name: 'Shared name', type: 'slack' },
    });
    expect(response.statusCode).toBe(409);
    const error = json<ErrorResponse>(response);
    expect(error).toMatchObject({ status: 409, code: 'NAME_TAKEN' });
    expect(error.message).toContain('"Shared name"');
    expect(await listAll()).toHaveLength(1);
  });

  it('answers creates sent at once each on its own: a taken name 409, the rest 201, in both accounts', async () => {
    // On PostgreSQL the creates of one turn share a statement; one refused must not refuse the others.
    await create(validBody(jira, 'taken'));
    // The other account's key known already, so that its creates come in the same turn.
    await t.call('GET', '/api/connectors', { key: t.keys.otherWrite });
    const first = await Promise.all(
      ['first 1', 'first 2', 'first 3'].flatMap((name) => [
        t.call('POST', '/api/connectors', { body: validBody(jira, name) }),
        t.call('POST', '/api/connectors', { body: validBody(jira, name), key: t.keys.otherWrite }),
      ]),
    );
    expect(first.map((response) => response.statusCode)).toEqual([201, 201, 201, 201, 201, 201]);
    const sends = [
      { name: 'taken' },
      { name: 'new 1' },
      { name: 'twice' },
      { name: 'new 2' },
      { name: 'twice' },
      { name: 'taken', key: t.keys.otherWrite },
      { name: 'twice', key: t.keys.otherWrite },
    ];
    const responses = await Promise.all(
      sends.map(({ name, key }) =>
        t.call('POST', '/api/connectors', { body: validBody(jira, name), ...(key ? { key } : {}) }),
      ),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses[0]).toBe(409);
    expect(json<ErrorResponse>(responses[0] as (typeof responses)[0]).code).toBe('NAME_TAKEN');
    expect([statuses[1], statuses[3], statuses[5], statuses[6]]).toEqual([201, 201, 201, 201]);
    expect([statuses[2], statuses[4]].sort()).toEqual([201, 409]);
    expect((await listAll()).map((connector) => connector.name).sort()).toEqual([
      'first 1',
      'first 2',
      'first 3',
      'new 1',
      'new 2',
      'taken',
      'twice',
    ]);
    const other = json<Connector[]>(
      await t.call('GET', '/api/connectors?max-results=100', { key: t.keys.otherWrite }),
    );
    expect(other.map((connector) => connector.name).sort()).toEqual([
      'first 1',
      'first 2',
      'first 3',
      'taken',
      'twice',
    ]);
    // Each create recorded once, with its own connector, in its own account.
    const audit = json<{ action: string; connectorName: string }[]>(
      await t.call('GET', '/api/audit-events?max-results=100'),
    );
    expect(audit.map((event) => `${event.action} ${event.connectorName}`).sort()).toEqual(
      ['first 1', 'first 2', 'first 3', 'new 1', 'new 2', 'taken', 'twice'].map((name) => `create ${name}`),
    );
  });

  it('treats names as case-sensitive and exact', async () => {
    await create(validBody(jira, 'Name'));
    await create(validBody(jira, 'name'));
    await create(validBody(jira, 'Name '));
    expect(await listAll()).toHaveLength(3);
  });

  it.each([
    ['an empty name', { name: '' }, '/name', /must not be empty/],
    ['a 256-character name', { name: 'n'.repeat(256) }, '/name', /at most 255/],
    ['a numeric name', { name: 5 }, '/name', /must be a string/],
    ['a null name', { name: null }, '/name', /must be a string/],
    ['no name', { name: undefined }, '/name', /required/],
    ['params that are not an object', { params: ['a'] }, '/params', /must be an object/],
    ['an unknown top-level field', { parms: {} }, '/parms', /unknown field "parms"/],
  ])('rejects %s', async (_label, change, field, message) => {
    const body: Record<string, unknown> = { ...validBody(jira), ...change };
    const response = await t.call('POST', '/api/connectors', { body });
    expect(response.statusCode).toBe(400);
    const error = json<ErrorResponse>(response);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.errors?.find((e) => e.field === field)?.message).toMatch(message);
    expect(await listAll()).toHaveLength(0);
  });

  it('accepts 255 characters counted as characters, not UTF-16 units', async () => {
    const created = await create(validBody(jira, '\u{1F600}'.repeat(255)));
    expect([...created.name]).toHaveLength(255);
    const byName = await t.call('GET', `/api/connectors/name/${encodeURIComponent(created.name)}`);
    expect(byName.statusCode).toBe(200);
    expect(json(byName)).toEqual(created);
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"jira"'],
    ['null', 'null'],
    ['a number', '42'],
  ])('rejects a body that is %s', async (_label, payload) => {
    const response = await t.call('POST', '/api/connectors', { body: payload });
    expect(response.statusCode).toBe(400);
    expect(json<ErrorResponse>(response)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('reports every problem at once', async () => {
    const response = await t.call('POST', '/api/connectors', {
      body: { name: '', type: 'jira', params: { url: 'nope', api_key: 'k' } },
    });
    const fields = json<ErrorResponse>(response)
      .errors?.map((e) => e.field)
      .sort();
    expect(fields).toEqual(['/name', '/params/api_key', '/params/email', '/params/password', '/params/url']);
  });

  it('lists at most 20 problems and says how many more there were: 3,000 unknown fields get a small 400', async () => {
    const body: Record<string, unknown> = validBody(jira);
    for (let i = 0; i < 3_000; i++) body[`f${i}`] = 12;
    expect(JSON.stringify(body).length).toBeGreaterThan(30_000); // the review's 35 KB body
    const response = await t.call('POST', '/api/connectors', { body });
    expect(response.statusCode).toBe(400);
    expect(response.body.length).toBeLessThan(8_000);
    const error = json<ErrorResponse>(response);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.errors).toHaveLength(21);
    expect(error.errors?.slice(0, 20).every((e) => /^\/f\d+$/.test(e.field))).toBe(true);
    expect(error.errors?.[20]).toEqual({
      field: '',
      message: '2980 more problems not listed (only the first 20 are); fix these and send the request again',
    });
    expect(error.message).toMatch(/^invalid connector: \/f0 unknown field "f0".*; and 2980 more problems$/);
    expect(error.message.match(/unknown field/g)).toHaveLength(20);
    expect(await listAll()).toHaveLength(0);
  });

  it('lists exactly 20 problems without a count', async () => {
    const body: Record<string, unknown> = validBody(jira);
    for (let i = 0; i < 20; i++) body[`f${i}`] = 1;
    const error = json<ErrorResponse>(await t.call('POST', '/api/connectors', { body }));
    expect(error.errors).toHaveLength(20);
    expect(error.message).not.toMatch(/more problem/);
  });
});

describe('what ilert\'s clients send for "not set"', () => {
  it('takes "params": null as {} for a type with no required param (ilert\'s Go client sends it)', async () => {
    const created = await create({ name: 'null params', type: 'slack', params: null });
    expect(created.params).toEqual({});
    const updated = await t.call('PUT', `/api/connectors/${created.id}`, {
      body: { name: 'null params again', type: 'slack', params: null },
    });
    expect(updated.statusCode).toBe(200);
    expect(json<Connector>(updated).params).toEqual({});
  });

  it('refuses "params": null for a type that requires params, naming what it needs', async () => {
    const response = await t.call('POST', '/api/connectors', {
      body: { name: 'n', type: 'jira', params: null },
    });
    expect(response.statusCode).toBe(400);
    expect(json<ErrorResponse>(response).errors).toEqual([
      { field: '/params', message: `is required for type jira; it needs ${jira.requiredParams.join(', ')}` },
    ]);
  });

  it.each([
    ['an optional URL', 'microsoft_teams_bot', {}, { url: '' }],
    ['an optional secret text', 'zoom_chat', { url: 'https://zoom.example.com/hook' }, { authorization: '' }],
    [
      'both optional params',
      'dynamic',
      { url: 'https://dyn.example.com/a' },
      { responseUrl: '', authorization: '' },
    ],
  ])('takes "" for %s as not set: nothing is stored for it', async (_what, type, kept, empty) => {
    const created = await create({ name: `empty ${type}`, type, params: { ...kept, ...empty } });
    expect(created.params).toEqual(kept);
    const updated = await t.call('PUT', `/api/connectors/${created.id}`, {
      body: { name: `empty ${type}`, type, params: { ...kept, ...empty } },
    });
    expect(updated.statusCode).toBe(200);
    expect(json<Connector>(updated).params).toEqual(kept);
  });

  it('still refuses "" for a required param', async () => {
    const response = await t.call('POST', '/api/connectors', {
      body: { ...validBody(jira), params: { ...validBody(jira).params, url: '', email: '' } },
    });
    expect(response.statusCode).toBe(400);
    expect(
      json<ErrorResponse>(response)
        .errors?.map((e) => e.field)
        .sort(),
    ).toEqual(['/params/email', '/params/url']);
  });
});

describe('GET /api/connectors/{id} and /api/connectors/name/{name}', () => {
  it('finds names holding / ? # % when the client percent-encodes them', async () => {
    for (const name of ['a/b', 'why?', '#1', '100%', 'a/b?c#d%25e', '%2F']) {
      const created = await create(validBody(jira, name));
      const byName = await t.call('GET', `/api/connectors/name/${encodeURIComponent(name)}`);
      expect(byName.statusCode, name).toBe(200);
      expect(json<Connector>(byName).id).toBe(created.id);
    }
  });

  it('reads a connector by id and by name', async () => {
    const created = await create(validBody(jira, 'By name / with slash?'));
    expect(json(await t.call('GET', `/api/connectors/${created.id}`))).toEqual(created);
    const byName = await t.call('GET', `/api/connectors/name/${encodeURIComponent(created.name)}`);
    expect(byName.statusCode).toBe(200);
    expect(json(byName)).toEqual(created);
  });

  it('answers 404 with the error shape for an unknown id or name', async () => {
    for (const url of ['/api/connectors/does-not-exist', '/api/connectors/name/nobody']) {
      const response = await t.call('GET', url);
      expect(response.statusCode).toBe(404);
      expect(json<ErrorResponse>(response)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }
  });
});

describe('PUT /api/connectors/{id}', () => {
  it('replaces name and params, keeps createdAt, moves updatedAt', async () => {
    const created = await create(validBody(jira, 'Before'));
    const body = {
      name: 'After',
      type: 'jira',
      params: { url: 'https://new.example.com', email: 'e', password: 'p2' },
    };
    const response = await t.call('PUT', `/api/connectors/${created.id}`, { body });
    expect(response.statusCode).toBe(200);
    const updated = json<Connector>(response);
    expect(updated).toMatchObject({ id: created.id, name: 'After', type: 'jira', params: body.params });
    expect(updated.createdAt).toBe(created.createdAt);
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
    expect(json(await t.call('GET', `/api/connectors/${created.id}`))).toEqual(updated);
  });

  it('replaces params whole: a param left out is gone', async () => {
    const zammad = await create({
      name: 'z',
      type: 'dynamic',
      params: { url: 'https://a.example', authorization: 'x' },
    });
    const response = await t.call('PUT', `/api/connectors/${zammad.id}`, {
      body: { name: 'z', type: 'dynamic', params: { url: 'https://a.example' } },
    });
    expect(json<Connector>(response).params).toEqual({ url: 'https://a.example' });
  });

  it('refuses to change the type with 400 saying so, and changes nothing', async () => {
    const created = await create();
    const response = await t.call('PUT', `/api/connectors/${created.id}`, {
      body: { name: 'x', type: 'slack' },
    });
    expect(response.statusCode).toBe(400);
    const error = json<ErrorResponse>(response);
    expect(error.code).toBe('TYPE_IMMUTABLE');
    expect(error.message).toMatch(/cannot be changed/);
    expect(json(await t.call('GET', `/api/connectors/${created.id}`))).toEqual(created);
  });

  it('leaves the connector untouched when the body is invalid', async () => {
    const created = await create();
    for (const body of [
      { name: '', type: 'jira', params: created.params },
      { type: 'jira' },
      '[]',
      '{"name":',
    ]) {
      const response = await t.call('PUT', `/api/connectors/${created.id}`, { body });
      expect(response.statusCode).toBe(400);
    }
    expect(json(await t.call('GET', `/api/connectors/${created.id}`))).toEqual(created);
  });

  it('answers 404 for an unknown id', async () => {
    const response = await t.call('PUT', '/api/connectors/nope', { body: validBody(jira) });
    expect(response.statusCode).toBe(404);
  });

  it('refuses a name taken by another connector with 409, and may keep its own name', async () => {
    await create(validBody(jira, 'Taken'));
    const other = await create(validBody(jira, 'Mine'));
    const conflict = await t.call('PUT', `/api/connectors/${other.id}`, { body: validBody(jira, 'Taken') });
    expect(conflict.statusCode).toBe(409);
    expect(json<ErrorResponse>(conflict).message).toContain('"Taken"');
    expect(json(await t.call('GET', `/api/connectors/${other.id}`))).toEqual(other);
    const same = await t.call('PUT', `/api/connectors/${other.id}`, {
      body: validBody(jira, 'Mine', 'changed'),
    });
    expect(same.statusCode).toBe(200);
  });

  it('ignores id, createdAt and updatedAt in the body', async () => {
    const created = await create();
    const response = await t.call('PUT', `/api/connectors/${created.id}`, {
      body: { ...validBody(jira), id: 'other', createdAt: '1999-01-01T00:00:00.000Z', updatedAt: 'x' },
    });
    const updated = json<Connector>(response);
    expect(updated.id).toBe(created.id);
    expect(updated.createdAt).toBe(created.createdAt);
  });
});

describe('DELETE /api/connectors/{id}', () => {
  it('answers 204 with an empty body, then 404', async () => {
    const created = await create();
    const response = await t.call('DELETE', `/api/connectors/${created.id}`);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await t.call('GET', `/api/connectors/${created.id}`)).statusCode).toBe(404);
    expect((await t.call('DELETE', `/api/connectors/${created.id}`)).statusCode).toBe(404);
  });

  it('frees the name for a new connector', async () => {
    const created = await create(validBody(jira, 'Reused'));
    await t.call('DELETE', `/api/connectors/${created.id}`);
    const again = await create(validBody(jira, 'Reused'));
    expect(again.id).not.toBe(created.id);
  });
});
