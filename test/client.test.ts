/**
 * @plugboard/client (clients/typescript) against a real server listening on a port: its generated
 * types are those of the served document, and every helper does what its README says.
 */
import { readFileSync } from 'node:fs';
import {
  type ConnectorInput,
  createPlugboardClient,
  etagOf,
  type PlugboardClient,
  PlugboardConnectionError,
  PlugboardError,
  toInput,
} from '@plugboard/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../clients/typescript/scripts/generate.mjs';
import { buildTestApp, type TestContext } from './helpers.js';

let t: TestContext;
let baseUrl: string;
let client: PlugboardClient;

beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  baseUrl = `http://127.0.0.1:${address.port}`;
  client = createPlugboardClient({ baseUrl, token: t.keys.write });
});

afterAll(() => t.close());

const jira = (name: string): ConnectorInput => ({
  type: 'jira',
  name,
  params: { url: 'https://acme.atlassian.net', email: 'ops@acme.example', password: 'secret-1' },
});

describe('the generated types', () => {
  it('are what openapi-typescript makes of the document the server serves now (else: npm run client:types)', async () => {
    const served = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
    const expected: string = await generate(JSON.parse(served.body));
    const committed = readFileSync(new URL('../clients/typescript/src/openapi.ts', import.meta.url), 'utf8');
    expect(
      committed === expected,
      'clients/typescript/src/openapi.ts is stale: run npm run client:types',
    ).toBe(true);
  });
});

describe('@plugboard/client against a server', () => {
  it('creates, reads by id and by an awkward name, updates, checks and deletes', async () => {
    const name = 'ops/eu? #1 100%';
    const created = await client.connectors.create(jira(name));
    expect(created).toMatchObject({ name, type: 'jira' });
    expect(etagOf(created)).toMatch(/^"/);
    expect(await client.connectors.get(created.id)).toEqual(created);
    expect((await client.connectors.getByName(name)).id).toBe(created.id);

    const updated = await client.connectors.update(created.id, { ...toInput(created), name: 'renamed' });
    expect(updated.name).toBe('renamed');
    const checked = await client.connectors.checkUnsaved(jira('unsaved'));
    expect(checked.status).toBeTypeOf('string');

    await client.connectors.delete(created.id);
    const gone = await client.connectors.get(created.id).catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(PlugboardError);
    expect(gone).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('throws typed errors carrying status, code, message and field errors', async () => {
    const bad = { type: 'jira', name: '', params: { url: 'nope' } } as unknown as ConnectorInput;
    const error = await client.connectors.create(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlugboardError);
    const { status, code, message, errors } = error as PlugboardError;
    expect({ status, code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(message).toMatch(/invalid connector/);
    expect(errors.map((e) => e.field)).toEqual(expect.arrayContaining(['/name', '/params/url']));
    const readOnly = createPlugboardClient({ baseUrl, token: t.keys.read });
    await expect(readOnly.connectors.create(jira('read key'))).rejects.toMatchObject({ status: 403 });
    const nobody = createPlugboardClient({ baseUrl, token: 'pb_not-a-key-0123456789abcdef' });
    await expect(nobody.types.list()).rejects.toMatchObject({ status: 401 });
  });

  it('walks every page with an async iterator, each connector once', async () => {
    const names = Array.from({ length: 7 }, (_, i) => `paged ${i}`);
    for (const name of names) await client.connectors.create({ type: 'slack', name, params: {} });
    const pages: number[] = [];
    for await (const page of client.connectors.pages({ pageSize: 3 })) pages.push(page.length);
    const seen: string[] = [];
    for await (const connector of client.connectors.all({ pageSize: 3 })) seen.push(connector.name);
    expect(seen.filter((name) => name.startsWith('paged '))).toEqual(names);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(seen.length);
    expect(pages.every((n) => n <= 3)).toBe(true);
  });

  it('read-modify-write: modify() reads again when someone wrote in between (412), and never loses their write', async () => {
    const created = await client.connectors.create({ type: 'slack', name: 'contested', params: {} });
    let calls = 0;
    const result = await client.connectors.modify(created.id, async (current) => {
      calls++;
      if (calls === 1) {
        // Another writer gets in between this read and the write.
        await client.connectors.update(created.id, { ...toInput(current), name: 'contested by other' });
      }
      return { ...toInput(current), name: `${current.name} + mine` };
    });
    expect(calls).toBe(2);
    expect(result.name).toBe('contested by other + mine');
    const stale = created;
    await expect(
      client.connectors.update(stale.id, toInput(stale), { ifMatch: etagOf(stale) ?? '' }),
    ).rejects.toMatchObject({ status: 412 });
  });

  it('retries a create whose answer was lost with the same Idempotency-Key: one connector, the first answer', async () => {
    const keys: (string | null)[] = [];
    let lost = false;
    const flaky = createPlugboardClient({
      baseUrl,
      token: t.keys.write,
      retry: { baseDelayMs: 10 },
      fetch: async (request) => {
        keys.push(request.headers.get('Idempotency-Key'));
        const response = await fetch(request);
        if (!lost) {
          // The server created it; the answer is lost on the way and a proxy says 503.
          lost = true;
          return new Response('{}', { status: 503, headers: { 'Retry-After': '0' } });
        }
        return response;
      },
    });
    const created = await flaky.connectors.create({ type: 'slack', name: 'created once', params: {} });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(keys[1]).toBe(keys[0]);
    const all: string[] = [];
    for await (const c of client.connectors.all()) all.push(c.name);
    expect(all.filter((name) => name === 'created once')).toHaveLength(1);
    expect(created.name).toBe('created once');
  });

  it('waits as long as Retry-After says on 429, and gives up when it asks for more than maxDelayMs', async () => {
    const sent: number[] = [];
    let limited = 1;
    const limitedClient = createPlugboardClient({
      baseUrl,
      token: t.keys.write,
      fetch: async (request) => {
        sent.push(Date.now());
        if (limited-- > 0) return new Response('{}', { status: 429, headers: { 'Retry-After': '1' } });
        return fetch(request);
      },
    });
    await limitedClient.types.list();
    expect(sent).toHaveLength(2);
    expect((sent[1] ?? 0) - (sent[0] ?? 0)).toBeGreaterThanOrEqual(950);

    const patient = createPlugboardClient({
      baseUrl,
      retry: { maxDelayMs: 1_000 },
      fetch: async () =>
        new Response(JSON.stringify({ status: 429, code: 'RATE_LIMITED', message: 'slow down' }), {
          status: 429,
          headers: { 'Retry-After': '60', 'Content-Type': 'application/json' },
        }),
    });
    await expect(patient.types.list()).rejects.toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      retryAfter: 60,
    });
  });

  it('says which server it could not reach', async () => {
    const offline = createPlugboardClient({ baseUrl: 'http://127.0.0.1:9', retry: false });
    const error = await offline.types.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlugboardConnectionError);
    expect(String((error as Error).message)).toMatch(
      /could not reach http:\/\/127\.0\.0\.1:9\/api\/connector-types/,
    );
  });
});
