import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validBody } from '../helpers.js';

// A row whose type no registered type has (a type removed from the registry, or a row written by
// hand): resolved once when the row is read, it is one typed error, logged with the connector and
// the type, and answered 500 with no internal detail.

let t: TestContext;
let stray: Connector;
let other: Connector;
beforeAll(async () => {
  t = await buildTestApp();
  const create = async (name: string) =>
    json<Connector>(await t.call('POST', '/api/connectors', { body: validBody(typeOf('slack'), name) }));
  stray = await create('stray');
  other = await create('other');
  await t.database.db
    .updateTable('connectors')
    .set({ type: 'retired_type' })
    .where('id', '=', stray.id)
    .execute();
});
afterAll(() => t.close());

function expectInternalError(response: Awaited<ReturnType<TestContext['call']>>): void {
  expect(response.statusCode).toBe(500);
  expect(json<ErrorResponse>(response)).toEqual({
    status: 500,
    code: 'INTERNAL_ERROR',
    message: 'internal error; the server log has the details',
  });
  expect(response.body).not.toContain('retired_type');
}

describe('a stored connector of an unregistered type', () => {
  it.each([
    ['GET one', 'GET', (): string => `/api/connectors/${stray.id}`],
    ['GET by name', 'GET', (): string => '/api/connectors/name/stray'],
    ['the list', 'GET', (): string => '/api/connectors'],
    ['a check', 'POST', (): string => `/api/connectors/${stray.id}/check`],
  ] as const)(
    '%s is a 500 without detail, the log naming the connector and the type',
    async (_name, method, url) => {
      const before = t.logs.length;
      if (method === 'GET') expectInternalError(await t.call(method, url(), { key: t.keys.read }));
      expectInternalError(await t.call(method, url()));
      const logged = t.logs.slice(before).join('\n');
      expect(logged).toContain('UnknownConnectorTypeError');
      expect(logged).toContain(`connector ${stray.id} has type \\"retired_type\\"`);
    },
  );

  it('an update is a 500 too, and changes nothing', async () => {
    expectInternalError(
      await t.call('PUT', `/api/connectors/${stray.id}`, { body: validBody(typeOf('slack'), 'renamed') }),
    );
    const row = await t.database.db
      .selectFrom('connectors')
      .select(['name', 'type'])
      .where('id', '=', stray.id)
      .executeTakeFirst();
    expect(row).toEqual({ name: 'stray', type: 'retired_type' });
  });

  it('leaves the other connectors readable, and can be deleted', async () => {
    expect((await t.call('GET', `/api/connectors/${other.id}`)).statusCode).toBe(200);
    expect((await t.call('DELETE', `/api/connectors/${stray.id}`)).statusCode).toBe(204);
    expect(json<Connector[]>(await t.call('GET', '/api/connectors')).map((c) => c.id)).toEqual([other.id]);
  });
});
