import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { createHashing } from '../../src/secrets/hash-key.js';
import { ephemeralKeyring } from '../../src/secrets/keyring.js';
import { createSecretBox } from '../../src/secrets/secret-box.js';
import { type ConnectorStore, createConnectorStore } from '../../src/store/connector-store.js';
import { createKeyStore } from '../../src/store/key-store.js';
import { PageCursors } from '../../src/store/page-cursors.js';
import { openTestDatabase, type TestDatabase } from '../backend.js';
import { buildTestApp, type ErrorResponse, json, type TestContext, typeOf, validBody } from '../helpers.js';
import { prng } from '../random.js';

/** The value, or a thrown error that fails the test loudly. */
function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('expected a value');
  return value;
}

const github = typeOf('github');
const ACME_COUNT = 137;

describe('paging of GET /api/connectors', () => {
  let ctx: TestContext;
  /** acme's connector ids in creation order. */
  const order: string[] = [];
  /** globex's connector ids: must never show up for acme. */
  const globexIds: string[] = [];

  beforeAll(async () => {
    ctx = await buildTestApp();
    for (let i = 0; i < ACME_COUNT; i++) {
      // Interleave the other account, so that filtering by account is what keeps it out.
      if (i % 10 === 0) {
        const other = await ctx.call('POST', '/api/connectors', {
          key: ctx.keys.otherWrite,
          body: validBody(github, `globex ${i}`),
        });
        expect(other.statusCode).toBe(201);
        globexIds.push(json<Connector>(other).id);
      }
      // Names that do not sort in creation order, so that ordering by name would show.
      const response = await ctx.call('POST', '/api/connectors', {
        body: validBody(github, `c-${(ACME_COUNT - i).toString().padStart(3, '0')}`),
      });
      expect(response.statusCode).toBe(201);
      order.push(json<Connector>(response).id);
    }
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function page(query: string, key = ctx.keys.write): Promise<string[]> {
    const response = await ctx.call('GET', `/api/connectors${query}`, { key });
    expect(response.statusCode).toBe(200);
    const ids = json<Connector[]>(response).map((c) => c.id);
    for (const id of globexIds) expect(ids).not.toContain(id);
    return ids;
  }

  it('defaults to 50 from the start', async () => {
    expect(await page('')).toEqual(order.slice(0, 50));
    expect(await page('', ctx.keys.read)).toEqual(order.slice(0, 50));
  });

  it('start-index defaults to 0 and max-results to 50', async () => {
    expect(await page('?max-results=10')).toEqual(order.slice(0, 10));
    expect(await page('?start-index=5')).toEqual(order.slice(5, 55));
  });

  it('accepts max-results from 1 to 100', async () => {
    expect(await page('?max-results=1')).toEqual(order.slice(0, 1));
    expect(await page('?max-results=100')).toEqual(order.slice(0, 100));
    expect(await page('?max-results=100&start-index=100')).toEqual(order.slice(100));
  });

  it("answers the ilert clients' exact query", async () => {
    expect(await page('?max-results=10&start-index=0')).toEqual(order.slice(0, 10));
    expect(await page('?start-index=10&max-results=10')).toEqual(order.slice(10, 20));
  });

  it('the other account sees only its own, in its own order', async () => {
    const response = await ctx.call('GET', '/api/connectors?max-results=100', { key: ctx.keys.otherRead });
    expect(json<Connector[]>(response).map((c) => c.id)).toEqual(globexIds);
    expect(globexIds).toHaveLength(Math.ceil(ACME_COUNT / 10));
  });

  it.each([1, 7, 50, 100])(
    'walking pages of %i visits every connector once, in creation order',
    async (size) => {
      const seen: string[] = [];
      for (let start = 0; ; start += size) {
        const ids = await page(`?start-index=${start}&max-results=${size}`);
        expect(ids.length).toBeLessThanOrEqual(size);
        seen.push(...ids);
        if (ids.length < size) break;
        expect(seen.length).toBeLessThanOrEqual(ACME_COUNT);
      }
      expect(seen).toEqual(order);
    },
  );

  it('answers [] past the end', async () => {
    expect(await page(`?start-index=${ACME_COUNT}`)).toEqual([]);
    expect(await page(`?start-index=${ACME_COUNT + 1}&max-results=100`)).toEqual([]);
    expect(await page('?start-index=2147483647')).toEqual([]);
  });

  const invalid: [string, string, string][] = [
    ['start-index', '-1', 'start-index=-1'],
    ['start-index', '1.5', 'start-index=1.5'],
    ['start-index', 'abc', 'start-index=abc'],
    ['start-index', 'empty', 'start-index='],
    ['start-index', '1e2', 'start-index=1e2'],
    ['start-index', 'given twice', 'start-index=0&start-index=1'],
    ['max-results', '0', 'max-results=0'],
    ['max-results', '101', 'max-results=101'],
    ['max-results', '-5', 'max-results=-5'],
    ['max-results', '2.0', 'max-results=2.0'],
    ['max-results', 'abc', 'max-results=abc'],
    ['max-results', 'empty', 'max-results='],
    ['max-results', 'given twice', 'max-results=10&max-results=10'],
    ['start-index', '-0', 'start-index=-0'],
    ['start-index', '+1', 'start-index=%2B1'],
    ['start-index', 'a leading space', 'start-index=%201'],
    ['start-index', 'a trailing space', 'start-index=1%20'],
    ['start-index', 'hex', 'start-index=0x10'],
    ['start-index', 'fullwidth digits', `start-index=${encodeURIComponent('１')}`],
    ['start-index', 'an underscore', 'start-index=1_000'],
    ['start-index', 'past int32', 'start-index=2147483648'],
    ['start-index', 'past int32 after zeros', 'start-index=0000002147483648'],
    ['start-index', 'eleven digits', 'start-index=10000000000'],
    ['max-results', '-0', 'max-results=-0'],
    ['max-results', 'zeros only', 'max-results=0000'],
    ['max-results', '101 after zeros', 'max-results=00000000000000000000101'],
    ['max-results', '1.0', 'max-results=1.0'],
    ['max-results', '1e1', 'max-results=1e1'],
  ];

  it.each(invalid)('%s %s: 400 naming the parameter', async (name, _label, query) => {
    const response = await ctx.call('GET', `/api/connectors?${query}`);
    expect(response.statusCode).toBe(400);
    const body = json<ErrorResponse>(response);
    expect(body).toEqual({
      status: 400,
      code: 'INVALID_QUERY',
      message: expect.stringContaining(name),
      errors: [{ field: name, message: expect.stringContaining(name) }],
    });
  });

  it('the 400 names the range of each parameter: start-index from 0 to 2147483647, max-results from 1 to 100', async () => {
    const response = await ctx.call('GET', '/api/connectors?start-index=-1&max-results=101');
    expect(json<ErrorResponse>(response).errors).toEqual([
      { field: 'start-index', message: 'start-index must be an integer from 0 to 2147483647' },
      { field: 'max-results', message: 'max-results must be an integer from 1 to 100' },
    ]);
  });

  it('a parameter given twice is refused as given twice, even with the same valid value', async () => {
    const response = await ctx.call('GET', '/api/connectors?max-results=10&max-results=10');
    expect(json<ErrorResponse>(response).errors).toEqual([
      {
        field: 'max-results',
        message: 'max-results was given more than once; give it once, as an integer from 1 to 100',
      },
    ]);
  });

  it('accepts leading zeros, as many as given', async () => {
    expect(await page('?max-results=01')).toEqual(order.slice(0, 1));
    expect(await page('?max-results=00000000000001')).toEqual(order.slice(0, 1));
    expect(await page('?max-results=0000000000000000000000000000100')).toEqual(order.slice(0, 100));
    expect(await page('?start-index=0000&max-results=002')).toEqual(order.slice(0, 2));
    expect(await page('?start-index=00000000000000000005&max-results=3')).toEqual(order.slice(5, 8));
    expect(await page('?start-index=0000002147483647')).toEqual([]);
  });

  it('reports both parameters when both are invalid', async () => {
    const response = await ctx.call('GET', '/api/connectors?start-index=x&max-results=0', {
      key: ctx.keys.read,
    });
    expect(response.statusCode).toBe(400);
    expect(json<ErrorResponse>(response).errors?.map((e) => e.field)).toEqual(['start-index', 'max-results']);
  });

  it('keeps the order across updates', async () => {
    const all = async () => [
      ...(await page('?max-results=100')),
      ...(await page('?start-index=100&max-results=100')),
    ];
    expect(await all()).toEqual(order);
    for (const index of [0, 3, 77, ACME_COUNT - 1]) {
      const id = defined(order[index]);
      const updated = await ctx.call('PUT', `/api/connectors/${id}`, {
        body: validBody(github, `updated ${index}`, 'updated'),
      });
      expect(updated.statusCode).toBe(200);
    }
    expect(await all()).toEqual(order);
    const first = json<Connector[]>(await ctx.call('GET', '/api/connectors?max-results=1'));
    expect(first.map((c) => [c.id, c.name])).toEqual([[order[0], 'updated 0']]);
  });
});

describe('concurrent creation', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await buildTestApp();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function allIds(): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; ; start += 100) {
      const response = await ctx.call('GET', `/api/connectors?start-index=${start}&max-results=100`);
      expect(response.statusCode).toBe(200);
      const page = json<Connector[]>(response);
      ids.push(...page.map((c) => c.id));
      if (page.length < 100) return ids;
    }
  }

  it('100 concurrent POSTs give 100 distinct ids, all listed', async () => {
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        ctx.call('POST', '/api/connectors', { body: validBody(github, `concurrent ${i}`) }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(100).fill(201));
    const ids = responses.map((r) => json<Connector>(r).id);
    expect(new Set(ids).size).toBe(100);
    const listed = await allIds();
    expect(listed).toHaveLength(100);
    expect([...listed].sort()).toEqual([...ids].sort());
  });

  it('100 concurrent POSTs with the same name give one success and 99 409s naming it', async () => {
    const name = 'only one of us';
    const before = await allIds();
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        ctx.call('POST', '/api/connectors', { body: validBody(github, name, `attempt-${i}`) }),
      ),
    );
    const succeeded = responses.filter((r) => r.statusCode >= 200 && r.statusCode < 300);
    const conflicts = responses.filter((r) => r.statusCode === 409);
    expect(succeeded).toHaveLength(1);
    expect(conflicts).toHaveLength(99);
    for (const conflict of conflicts) {
      expect(json<ErrorResponse>(conflict)).toMatchObject({
        status: 409,
        code: 'NAME_TAKEN',
        message: expect.stringContaining(JSON.stringify(name)),
      });
    }
    const winner = json<Connector>(defined(succeeded[0]));
    const byName = await ctx.call('GET', `/api/connectors/name/${encodeURIComponent(name)}`);
    expect(json(byName)).toEqual(winner);
    expect(await allIds()).toEqual([...before, winner.id]);
  });
});

describe('paging from remembered positions (keyset) agrees with OFFSET', () => {
  const actor = { keyId: 'key_test', keyLabel: 'test' };
  const slack = typeOf('slack');
  let database: TestDatabase;
  let acme: number;
  let globex: number;
  /** Two servers on one database, each with its own anchors, small strides so that marks matter. */
  let one: ConnectorStore;
  let two: ConnectorStore;

  beforeAll(async () => {
    database = await openTestDatabase();
    const keys = createKeyStore(database.handle.db, createHashing(randomBytes(32)));
    await keys.create('acme', 'write', 'w');
    await keys.create('globex', 'write', 'w');
    const ids = await database.handle.db.selectFrom('accounts').select(['id', 'name']).execute();
    acme = defined(ids.find((row) => row.name === 'acme')).id;
    globex = defined(ids.find((row) => row.name === 'globex')).id;
    const box = createSecretBox(ephemeralKeyring());
    one = createConnectorStore(database.handle.db, box, new PageCursors(10, 7));
    two = createConnectorStore(database.handle.db, box, new PageCursors(10, 5));
  });
  afterAll(async () => {
    await database.dispose();
  });

  /** The truth: a plain OFFSET query. */
  async function offsetPage(accountId: number, offset: number, limit: number): Promise<string[]> {
    const rows = await database.handle.db
      .selectFrom('connectors')
      .select('id')
      .where('account_id', '=', accountId)
      .orderBy('seq')
      .limit(limit)
      .offset(offset)
      .execute();
    return rows.map((row) => row.id);
  }

  it('for sequential walks, random jumps and past the end, across creates and deletes on either server', async () => {
    let serial = 0;
    const live: Record<number, string[]> = {};
    const create = async (store: ConnectorStore, accountId: number) => {
      const created = await store.create(accountId, actor, {
        ...validBody(slack, `n${serial++}`),
        type: slack,
      });
      live[accountId] = [...(live[accountId] ?? []), created.id];
    };
    for (let i = 0; i < 120; i++) await create(i % 2 ? one : two, i % 5 === 0 ? globex : acme);
    // A fixed pseudo-random sequence: reproducible failures.
    const next = prng(42);
    const random = (n: number) => Math.floor(next() * n);
    const done = { deletes: 0, creates: 0, lists: 0, deep: 0 };
    for (let step = 0; step < 300; step++) {
      const store = random(2) ? one : two;
      const accountId = random(4) === 0 ? globex : acme;
      const roll = random(10);
      if (roll === 0) {
        await create(store, accountId);
        done.creates++;
      } else if (roll === 1 && (live[accountId]?.length ?? 0) > 0) {
        const ids = live[accountId] ?? [];
        const [victim] = ids.splice(random(ids.length), 1);
        expect(await store.delete(accountId, actor, defined(victim))).toBe(true);
        done.deletes++;
      } else {
        const count = live[accountId]?.length ?? 0;
        const limit = 1 + random(12);
        // Walk on from a page end half the time, else jump anywhere (sometimes past the end).
        const offset = roll < 6 ? random(count + 1) : random(count + 20);
        const page = (await store.list(accountId, offset, limit)).map((c) => c.id);
        done.lists++;
        if (offset > 10) done.deep++;
        expect(page, `step ${step}: offset ${offset}, limit ${limit}`).toEqual(
          await offsetPage(accountId, offset, limit),
        );
        if (page.length === limit) {
          const next = (await store.list(accountId, offset + limit, limit)).map((c) => c.id);
          expect(next).toEqual(await offsetPage(accountId, offset + limit, limit));
        }
      }
    }
    // Concurrent jumps extend the same marks at once: every answer still equals OFFSET.
    for (let round = 0; round < 10; round++) {
      await create(round % 2 ? one : two, acme); // a new version: marks start over
      const count = live[acme]?.length ?? 0;
      const offsets = [random(count), random(count), count - 1 - random(10), random(count + 5)];
      const pages = await Promise.all(offsets.map((offset) => one.list(acme, offset, 5)));
      for (const [i, offset] of offsets.entries()) {
        expect(
          pages[i]?.map((c) => c.id),
          `round ${round}: offset ${offset}`,
        ).toEqual(await offsetPage(acme, offset, 5));
      }
    }
    // The run did what it claims (so that it can fail): writes between reads, jumps past the marks.
    expect(done.deletes).toBeGreaterThan(15);
    expect(done.creates).toBeGreaterThan(15);
    expect(done.deep).toBeGreaterThan(100);
  });
});
