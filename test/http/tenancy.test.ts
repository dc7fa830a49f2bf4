import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { buildTestApp, json, type TestContext, typeOf, validBody } from '../helpers.js';

const jira = typeOf('jira');
const github = typeOf('github');

/** An id in the server's format that no connector has. */
function unusedId(): string {
  return randomBytes(16).toString('base64url');
}

/** The response to `probe` must be the response to `reference` with the one value swapped in. */
function expectSameAs(
  probe: LightMyRequestResponse,
  probeValue: string,
  reference: LightMyRequestResponse,
  referenceValue: string,
): void {
  expect(reference.statusCode).toBe(404);
  expect(probe.statusCode).toBe(404);
  expect(probe.headers['content-type']).toBe(reference.headers['content-type']);
  const expected = JSON.parse(
    reference.body.replaceAll(
      JSON.stringify(referenceValue).slice(1, -1),
      JSON.stringify(probeValue).slice(1, -1),
    ),
  );
  expect(json(probe)).toEqual(expected);
  expect(json(probe)).toEqual({ status: 404, code: 'NOT_FOUND', message: expect.any(String) });
}

describe('tenant isolation', () => {
  let ctx: TestContext;
  let acme: Connector;
  let globexOwn: Connector;

  beforeEach(async () => {
    ctx = await buildTestApp();
    const created = await ctx.call('POST', '/api/connectors', { body: validBody(jira, 'acme jira', 'acme') });
    expect(created.statusCode).toBe(201);
    acme = json<Connector>(created);
    const other = await ctx.call('POST', '/api/connectors', {
      key: ctx.keys.otherWrite,
      body: validBody(github, 'globex github', 'globex'),
    });
    expect(other.statusCode).toBe(201);
    globexOwn = json<Connector>(other);
  });
  afterEach(async () => {
    await ctx.close();
  });

  /** acme's connectors as acme's write key sees them. */
  async function acmeState(): Promise<Connector[]> {
    const response = await ctx.call('GET', '/api/connectors?max-results=100');
    expect(response.statusCode).toBe(200);
    return json<Connector[]>(response);
  }

  const globexKeys = ['otherWrite', 'otherRead'] as const;

  it.each(globexKeys)('GET one: 404 for globex (%s), the same as an unknown id', async (keyName) => {
    const key = ctx.keys[keyName];
    const missing = unusedId();
    expectSameAs(
      await ctx.call('GET', `/api/connectors/${acme.id}`, { key }),
      acme.id,
      await ctx.call('GET', `/api/connectors/${missing}`, { key }),
      missing,
    );
  });

  it.each(globexKeys)('GET by name: 404 for globex (%s), the same as an unknown name', async (keyName) => {
    const key = ctx.keys[keyName];
    const name = encodeURIComponent(acme.name);
    expectSameAs(
      await ctx.call('GET', `/api/connectors/name/${name}`, { key }),
      acme.name,
      await ctx.call('GET', '/api/connectors/name/no%20such%20name', { key }),
      'no such name',
    );
  });

  const putBodies: [string, () => unknown][] = [
    ['a valid body of the same type', () => validBody(jira, 'taken over', 'globex')],
    ['a body of another type', () => validBody(github, 'taken over', 'globex')],
    ["a body with globex's own connector name", () => validBody(jira, 'globex github', 'globex')],
    ['an invalid body', () => ({ name: '', type: 'jira', params: {} })],
  ];

  it.each(putBodies)(
    'PUT with %s: 404 for globex, the same as an unknown id; acme unchanged',
    async (_l, body) => {
      const before = await acmeState();
      const missing = unusedId();
      const probe = await ctx.call('PUT', `/api/connectors/${acme.id}`, {
        key: ctx.keys.otherWrite,
        body: body(),
      });
      const reference = await ctx.call('PUT', `/api/connectors/${missing}`, {
        key: ctx.keys.otherWrite,
        body: body(),
      });
      expectSameAs(probe, acme.id, reference, missing);
      expect(await acmeState()).toEqual(before);
      expect(json(await ctx.call('GET', `/api/connectors/${acme.id}`))).toEqual(acme);
      expect(json(await ctx.call('GET', `/api/connectors/name/${encodeURIComponent(acme.name)}`))).toEqual(
        acme,
      );
    },
  );

  it('DELETE: 404 for globex, the same as an unknown id; acme unchanged', async () => {
    const before = await acmeState();
    const missing = unusedId();
    const probe = await ctx.call('DELETE', `/api/connectors/${acme.id}`, { key: ctx.keys.otherWrite });
    const reference = await ctx.call('DELETE', `/api/connectors/${missing}`, { key: ctx.keys.otherWrite });
    expectSameAs(probe, acme.id, reference, missing);
    expect(await acmeState()).toEqual(before);
    const still = await ctx.call('GET', `/api/connectors/${acme.id}`);
    expect(still.statusCode).toBe(200);
    expect(json(still)).toEqual(acme);
  });

  it("globex's list never includes acme's connectors, on any page", async () => {
    for (const key of [ctx.keys.otherWrite, ctx.keys.otherRead]) {
      for (const query of [
        '',
        '?max-results=100',
        '?max-results=1&start-index=0',
        '?max-results=1&start-index=1',
      ]) {
        const response = await ctx.call('GET', `/api/connectors${query}`, { key });
        expect(response.statusCode).toBe(200);
        const ids = json<Connector[]>(response).map((c) => c.id);
        expect(ids).not.toContain(acme.id);
        expect(response.body).not.toContain(acme.name);
      }
      const all = json<Connector[]>(await ctx.call('GET', '/api/connectors', { key }));
      expect(all.map((c) => c.id)).toEqual([globexOwn.id]);
    }
  });

  it("acme's keys see acme's connectors and never globex's", async () => {
    for (const key of [ctx.keys.write, ctx.keys.read]) {
      const list = await ctx.call('GET', '/api/connectors', { key });
      expect(json<Connector[]>(list).map((c) => c.id)).toEqual([acme.id]);
      const one = await ctx.call('GET', `/api/connectors/${acme.id}`, { key });
      expect(one.statusCode).toBe(200);
      expect(json<Connector>(one).id).toBe(acme.id);
      const byName = await ctx.call('GET', `/api/connectors/name/${encodeURIComponent(acme.name)}`, { key });
      expect(byName.statusCode).toBe(200);
      expect(json<Connector>(byName).id).toBe(acme.id);

      const missing = unusedId();
      expectSameAs(
        await ctx.call('GET', `/api/connectors/${globexOwn.id}`, { key }),
        globexOwn.id,
        await ctx.call('GET', `/api/connectors/${missing}`, { key }),
        missing,
      );
      expect(
        (await ctx.call('GET', `/api/connectors/name/${encodeURIComponent(globexOwn.name)}`, { key }))
          .statusCode,
      ).toBe(404);
    }
    // acme's write key cannot change or delete globex's connector either.
    expect(
      (await ctx.call('PUT', `/api/connectors/${globexOwn.id}`, { body: validBody(github, 'mine now') }))
        .statusCode,
    ).toBe(404);
    expect((await ctx.call('DELETE', `/api/connectors/${globexOwn.id}`)).statusCode).toBe(404);
    expect(
      json(await ctx.call('GET', `/api/connectors/${globexOwn.id}`, { key: ctx.keys.otherWrite })),
    ).toEqual(globexOwn);
  });

  it('the same name may exist in both accounts, and each account keeps its own', async () => {
    const name = 'shared name';
    const inAcme = await ctx.call('POST', '/api/connectors', { body: validBody(jira, name, 'acme') });
    expect(inAcme.statusCode).toBe(201);
    const inGlobex = await ctx.call('POST', '/api/connectors', {
      key: ctx.keys.otherWrite,
      body: validBody(github, name, 'globex'),
    });
    expect(inGlobex.statusCode).toBe(201);
    const a = json<Connector>(inAcme);
    const g = json<Connector>(inGlobex);
    expect(a.id).not.toBe(g.id);

    const path = `/api/connectors/name/${encodeURIComponent(name)}`;
    expect(json(await ctx.call('GET', path))).toEqual(a);
    expect(json(await ctx.call('GET', path, { key: ctx.keys.otherWrite }))).toEqual(g);

    // Renaming into a name that only the other account uses is fine.
    const renamed = await ctx.call('PUT', `/api/connectors/${acme.id}`, {
      body: validBody(jira, globexOwn.name, 'acme'),
    });
    expect(renamed.statusCode).toBe(200);

    // Changing and deleting globex's copy leaves acme's alone.
    const updated = await ctx.call('PUT', `/api/connectors/${g.id}`, {
      key: ctx.keys.otherWrite,
      body: validBody(github, name, 'changed'),
    });
    expect(updated.statusCode).toBe(200);
    expect(
      (await ctx.call('DELETE', `/api/connectors/${g.id}`, { key: ctx.keys.otherWrite })).statusCode,
    ).toBe(204);
    expect(json(await ctx.call('GET', path))).toEqual(a);
    expect((await ctx.call('GET', path, { key: ctx.keys.otherWrite })).statusCode).toBe(404);
  });
});
