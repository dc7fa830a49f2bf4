import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorTypes } from '../../src/connectors/registry.js';
import {
  buildTestApp,
  type ErrorResponse,
  json,
  type TestContext,
  validBody,
  validParams,
} from '../helpers.js';

/**
 * One table over every registered type: the params table of shared/design/connector-types.md,
 * enforced through HTTP. Each case asserts that a rejected request stored nothing.
 */
let t: TestContext;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

async function count(): Promise<number> {
  const list = await t.call('GET', '/api/connectors?max-results=100');
  return json<unknown[]>(list).length;
}

async function expectRejected(body: unknown, field: string, messagePart: RegExp): Promise<ErrorResponse> {
  const before = await count();
  const response = await t.call('POST', '/api/connectors', { body });
  expect(response.statusCode).toBe(400);
  const error = json<ErrorResponse>(response);
  expect(error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  const entry = error.errors?.find((e) => e.field === field);
  expect(entry, `an error at ${field} in ${JSON.stringify(error.errors)}`).toBeDefined();
  expect(entry?.message).toMatch(messagePart);
  expect(await count()).toBe(before);
  return error;
}

describe.each(connectorTypes.map((type) => [type.id, type] as const))('connector type %s', (id, type) => {
  it('accepts a valid connector and returns it as stored', async () => {
    const body = validBody(type, `valid ${id}`);
    const response = await t.call('POST', '/api/connectors', { body });
    expect(response.statusCode).toBe(201);
    const created = json<Record<string, unknown>>(response);
    expect(created).toMatchObject({ name: body.name, type: id, params: body.params });
    const read = await t.call('GET', `/api/connectors/${String(created.id)}`);
    expect(json(read)).toEqual(created);
  });

  it.each(type.requiredParams.map((name) => [name]))(
    'rejects a body without the required param %s',
    async (name) => {
      const body = validBody(type, `missing ${name} ${id}`);
      delete body.params[name];
      await expectRejected(body, `/params/${name}`, new RegExp(`required for type ${id}`));
    },
  );

  it.each(type.requiredParams.map((name) => [name]))('rejects an empty required param %s', async (name) => {
    const body = validBody(type, `empty ${name} ${id}`);
    body.params[name] = '';
    await expectRejected(body, `/params/${name}`, /must not be empty|http: or https: URL/);
  });

  it('rejects an unknown key, naming it and the allowed keys', async () => {
    const body = validBody(type, `unknown key ${id}`);
    const params: Record<string, string> = { ...body.params, api_key: 'typo' };
    const error = await expectRejected({ ...body, params }, '/params/api_key', /unknown key "api_key"/);
    const entry = error.errors?.find((e) => e.field === '/params/api_key');
    for (const allowed of type.paramNames) expect(entry?.message).toContain(allowed);
    expect(JSON.stringify(error)).not.toContain('typo');
  });

  const urlParams = type.paramNames.filter((name) => type.params[name]?.format === 'url');
  it.each(
    urlParams.flatMap((name) =>
      [
        'ftp://files.example.com/x',
        'example.com/path',
        'javascript:alert(1)',
        ' https://lead.example.com',
        'https://',
      ].map((bad) => [name, bad] as const),
    ),
  )('rejects %s = %j (not an absolute http(s) URL)', async (name, bad) => {
    const body = validBody(type, `bad url ${id} ${name} ${bad}`);
    body.params[name] = bad;
    await expectRejected(body, `/params/${name}`, /absolute http: or https: URL/);
  });

  it.each(type.paramNames.map((name) => [name]))('rejects a non-string value for %s', async (name) => {
    const body = validBody(type, `number ${name} ${id}`);
    await expectRejected(
      { ...body, params: { ...body.params, [name]: 42 } },
      `/params/${name}`,
      /must be a string/,
    );
  });

  if (type.requiredParams.length === 0) {
    it('accepts a body without params and stores {}', async () => {
      const response = await t.call('POST', '/api/connectors', {
        body: { name: `no params ${id}`, type: id },
      });
      expect(response.statusCode).toBe(201);
      expect(json<{ params: unknown }>(response).params).toEqual({});
    });
  } else {
    it('rejects a body without params, naming what the type needs', async () => {
      const error = await expectRejected(
        { name: `no params ${id}`, type: id },
        '/params',
        /required for type/,
      );
      const entry = error.errors?.find((e) => e.field === '/params');
      for (const required of type.requiredParams) expect(entry?.message).toContain(required);
    });
  }

  it('stores strings exactly as given (no trimming)', async () => {
    const params = validParams(type, 'keep');
    const textParam = type.paramNames.find((name) => type.params[name]?.format === 'text');
    if (textParam) params[textParam] = `  ${textParam} with spaces \u00e9\u{1F600}  `;
    const response = await t.call('POST', '/api/connectors', {
      body: { name: ` spaced ${id} `, type: id, params },
    });
    expect(response.statusCode).toBe(201);
    expect(json(response)).toMatchObject({ name: ` spaced ${id} `, params });
  });
});

describe('types outside the registry', () => {
  it.each([['datadog'], ['aws_lambda'], ['JIRA'], ['']])(
    'rejects type %j, listing the accepted types',
    async (type) => {
      const error = await expectRejected(
        { name: `bad type ${type}`, type, params: {} },
        '/type',
        /accepted types/,
      );
      const entry = error.errors?.find((e) => e.field === '/type');
      for (const known of connectorTypes) expect(entry?.message).toContain(known.id);
    },
  );

  it('rejects a missing type', async () => {
    await expectRejected({ name: 'no type', params: {} }, '/type', /required/);
  });

  it('rejects a non-string type', async () => {
    await expectRejected({ name: 'numeric type', type: 7 }, '/type', /must be a string/);
  });
});
