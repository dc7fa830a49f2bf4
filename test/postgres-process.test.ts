/**
 * Several real `plugboard` processes on one PostgreSQL database (needs `npm run build` first):
 * - two servers under interleaved, concurrent creates, updates, deletes and lists agree with each
 *   other and with what was acknowledged; ids never collide; a name taken on one is taken on the
 *   other; concurrent conditional writes with one If-Match on both: exactly one wins; a write on
 *   one is served by GETs of the other once PostgreSQL's notice of it arrived (waited for up to
 *   2 s), and a connector deleted on one is never served by the other after that;
 * - a key made by `plugboard keys create` works on both at once, and `keys revoke` stops it on both
 *   within 5 s;
 * - on a fresh database, ten `plugboard migrate` at once migrate once and all succeed, and two
 *   servers starting at once (with one PLUGBOARD_API_KEY, or with none) both start.
 *
 * The file works in databases of its own on the test run's cluster, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import { migrations } from '../src/store/migrations/index.js';
import { postgresTestUrl } from './backend.js';
import {
  type Answer,
  type PlugboardProcess,
  printedKeys,
  type RequestOptions,
  Sandbox,
  type ServerProcess,
  waitFor,
} from './process-helpers.js';
import { prng } from './random.js';

const API_KEY = 'pg-process-test-key-0123456789abcdef';
const MASTER_KEY = randomBytes(32).toString('base64');
/** Every process of this file: the same master key and bootstrap key, small pools (the cluster is shared). */
const ENV = { PLUGBOARD_API_KEY: API_KEY, PLUGBOARD_MASTER_KEY: MASTER_KEY, DATABASE_POOL_SIZE: '4' };

/** False when no PostgreSQL answers: test/postgres-setup.ts then skips every test (and beforeAll must not fail). */
const postgresAvailable = (() => {
  const info = inject('postgres');
  return info !== undefined && 'url' in info;
})();

let adminPool: pg.Pool | undefined;
function admin(): pg.Pool {
  if (!adminPool) {
    adminPool = new pg.Pool({ connectionString: postgresTestUrl(), max: 2 });
    adminPool.on('error', () => {});
  }
  return adminPool;
}

const databases: string[] = [];
const sandboxes: Sandbox[] = [];

/** A new, empty database on the test cluster (dropped after the file), and a sandbox on it. */
async function freshSandbox(): Promise<{ box: Sandbox; name: string }> {
  const name = `plugboard_proc_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin().query(`create database ${name}`);
  databases.push(name);
  const url = new URL(postgresTestUrl());
  url.pathname = `/${name}`;
  const box = new Sandbox({ databaseUrl: url.toString() });
  sandboxes.push(box);
  return { box, name };
}

afterAll(async () => {
  await Promise.allSettled(sandboxes.splice(0).map((box) => box.cleanup()));
  for (const name of databases.splice(0)) {
    await admin().query(`drop database if exists ${name} with (force)`);
  }
  await adminPool?.end();
});

function call(
  server: ServerProcess,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Answer> {
  return server.call(method, path, { key: API_KEY, timeoutMs: 10_000, ...options });
}

async function listAll(server: ServerProcess, key = API_KEY): Promise<Connector[]> {
  const all: Connector[] = [];
  for (let page = 0; page < 20; page++) {
    const answer = await call(server, 'GET', `/api/connectors?start-index=${page * 100}&max-results=100`, {
      key,
    });
    expect(answer.status).toBe(200);
    const items = answer.body as Connector[];
    all.push(...items);
    if (items.length < 100) return all;
  }
  throw new Error('more than 20 pages of connectors');
}

/** Types with no, one and two secrets, so that reading on the other server also opens secrets. */
const TYPES = ['slack', 'dingtalk', 'jira'] as const;

function content(type: string | number, name: string, marker: string) {
  switch (typeof type === 'number' ? TYPES[type % TYPES.length] : type) {
    case 'slack':
      return { name, type: 'slack', params: {} };
    case 'dingtalk':
      return {
        name,
        type: 'dingtalk',
        params: {
          url: `https://oapi.dingtalk.com/robot/send?access_token=${marker}`,
          secret: `SEC-${marker}`,
        },
      };
    default:
      return {
        name,
        type: 'jira',
        params: {
          url: `https://jira.example.com/${marker}`,
          email: `${marker}@example.com`,
          password: `pw-${marker}`,
        },
      };
  }
}

/** Runs `tasks` with at most `width` at a time. */
async function concurrently(tasks: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++];
        await task?.();
      }
    }),
  );
}

/**
 * A GET of one connector on `server` once it serves what `settled` accepts: each server keeps the
 * connectors it read and drops one when PostgreSQL's notice of another server's commit arrives
 * (src/store/connector-cache.ts, the README's PostgreSQL section), usually well under a
 * millisecond after the writer answered; the wait is for a loaded machine. The last answer is
 * returned either way, for the caller's expectations to name what was served.
 */
async function readOnceNoticed(
  server: ServerProcess,
  id: string,
  settled: (answer: Answer) => boolean,
): Promise<Answer> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const answer = await call(server, 'GET', `/api/connectors/${id}`);
    if (settled(answer) || Date.now() >= deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function byId(connectors: readonly Connector[]): Connector[] {
  return [...connectors].sort((a, b) => (a.id < b.id ? -1 : 1));
}

describe('two servers on one database', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let box: Sandbox;

  beforeAll(async () => {
    if (!postgresAvailable) return;
    ({ box } = await freshSandbox());
    [a, b] = await Promise.all([box.startServer(ENV, 20_000), box.startServer(ENV, 20_000)]);
  });

  afterEach(() => {
    // Neither server may have died or logged a 500 during a test.
    if (!postgresAvailable) return;
    for (const server of [a, b]) {
      expect(server.running, server.stderr).toBe(true);
      expect(server.logLines().filter((line) => line.msg === 'request' && line.status === 500)).toEqual([]);
    }
  });

  it('agree under interleaved, concurrent creates, updates, deletes and lists', async () => {
    const seed = Number(process.env.PG_PROCESS_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const servers = [a, b];
    const model = new Map<string, Connector>();
    const ids = new Set<string>();
    let operations = 0;
    const done = { list: 0, create: 0, update: 0, delete: 0, clash: 0, renameClash: 0 };
    let serial = 0;
    const context = `seed ${seed}`;

    for (let round = 0; round < 10; round++) {
      // 30 operations per round, on connectors that each operation has to itself in the round;
      // every acknowledged write is read back on the other server, once its notice has arrived.
      const free = [...model.keys()];
      const take = (): Connector | undefined => {
        const index = Math.floor(random() * free.length);
        const [id] = free.splice(index, 1);
        return id === undefined ? undefined : model.get(id);
      };
      // What no operation of the round touches (known once the round is planned): every list must show it as it is.
      let untouched: Connector[] = [];
      const tasks: (() => Promise<void>)[] = [];
      for (let i = 0; i < 30; i++) {
        const on = Math.floor(random() * 2);
        const here = servers[on] as ServerProcess;
        const there = servers[1 - on] as ServerProcess;
        const dice = random();
        const n = serial++;
        if (dice < 0.1) {
          // A list in the middle of the writes (one page: the model stays under 100 connectors).
          tasks.push(async () => {
            const answer = await call(here, 'GET', '/api/connectors?max-results=100');
            expect(answer.status, context).toBe(200);
            const listed = answer.body as Connector[];
            expect(new Set(listed.map((c) => c.id)).size, context).toBe(listed.length);
            const shown = new Map(listed.map((c) => [c.id, c]));
            for (const connector of untouched) expect(shown.get(connector.id), context).toEqual(connector);
            operations += 1;
            done.list++;
          });
          continue;
        }
        const create = model.size < 12 || (dice < 0.45 && model.size < 60);
        const target = create ? undefined : take();
        if (!target) {
          tasks.push(async () => {
            const answer = await call(here, 'POST', '/api/connectors', {
              body: content(n, `c${n}`, `m${n}`),
            });
            expect(answer.status, `${context}: ${JSON.stringify(answer.body)}`).toBe(201);
            const created = answer.body as Connector;
            expect(ids.has(created.id), `${context}: id ${created.id} given twice`).toBe(false);
            ids.add(created.id);
            model.set(created.id, created);
            const read = await call(there, 'GET', `/api/connectors/${created.id}`);
            expect(read.status, context).toBe(200);
            expect(read.body, context).toEqual(created);
            expect(read.etag, context).toBe(answer.etag);
            operations += 2;
            done.create++;
          });
        } else if (dice < 0.7) {
          tasks.push(async () => {
            const body = content(target.type, `u${n}`, `m${n}`);
            const answer = await call(here, 'PUT', `/api/connectors/${target.id}`, { body });
            expect(answer.status, `${context}: ${JSON.stringify(answer.body)}`).toBe(200);
            const updated = answer.body as Connector;
            expect(updated.name, context).toBe(`u${n}`);
            model.set(updated.id, updated);
            const read = await readOnceNoticed(there, target.id, (seen) => seen.etag === answer.etag);
            expect(read.body, context).toEqual(updated);
            expect(read.etag, context).toBe(answer.etag);
            operations += 2;
            done.update++;
          });
        } else if (dice < 0.85) {
          tasks.push(async () => {
            const answer = await call(here, 'DELETE', `/api/connectors/${target.id}`);
            expect(answer.status, context).toBe(204);
            model.delete(target.id);
            const read = await readOnceNoticed(there, target.id, (seen) => seen.status === 404);
            expect(read.status, context).toBe(404);
            operations += 2;
            done.delete++;
          });
        } else {
          // The name of a connector that exists (and that nobody renames this round) is taken on
          // both servers: as a new connector's name, and as another connector's new name.
          const other = take();
          tasks.push(async () => {
            const clash = await call(there, 'POST', '/api/connectors', {
              body: content(n, target.name, `x${n}`),
            });
            expect(clash.status, `${context}: ${JSON.stringify(clash.body)}`).toBe(409);
            expect((clash.body as { code: string }).code, context).toBe('NAME_TAKEN');
            const byName = await call(here, 'GET', `/api/connectors/name/${encodeURIComponent(target.name)}`);
            expect(byName.body, context).toEqual(model.get(target.id));
            operations += 2;
            done.clash++;
            if (!other) return;
            const rename = await call(here, 'PUT', `/api/connectors/${other.id}`, {
              body: content(other.type, target.name, `x${n}`),
            });
            expect(rename.status, `${context}: ${JSON.stringify(rename.body)}`).toBe(409);
            expect((rename.body as { code: string }).code, context).toBe('NAME_TAKEN');
            const unchanged = await call(there, 'GET', `/api/connectors/${other.id}`);
            expect(unchanged.body, context).toEqual(other);
            operations += 2;
            done.renameClash++;
          });
        }
      }
      untouched = free.map((id) => model.get(id) as Connector);
      await concurrently(tasks, 6);

      // Between rounds: both servers list exactly the same, which is exactly what was acknowledged.
      const [fromA, fromB] = await Promise.all([listAll(a), listAll(b)]);
      expect(fromB, context).toEqual(fromA);
      expect(byId(fromA), context).toEqual(byId([...model.values()]));
      operations += 2;
    }
    expect(operations, JSON.stringify(done)).toBeGreaterThan(400);
    for (const [kind, count] of Object.entries(done)) expect(count, `${kind}: ${context}`).toBeGreaterThan(5);
    expect(model.size).toBeGreaterThan(20);
  });

  it('give one name to exactly one of two concurrent creates, and keep it taken on both', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `contested ${round}`;
      const answers = await Promise.all(
        [a, b].map((server, i) =>
          call(server, 'POST', '/api/connectors', { body: content(i + round, name, `r${round}-${i}`) }),
        ),
      );
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses, JSON.stringify(answers)).toEqual([201, 409]);
      const winner = answers.find((answer) => answer.status === 201)?.body as Connector;
      const loser = answers.find((answer) => answer.status === 409)?.body as { code: string };
      expect(loser.code).toBe('NAME_TAKEN');
      for (const server of [a, b]) {
        const read = await call(server, 'GET', `/api/connectors/name/${encodeURIComponent(name)}`);
        expect(read.body).toEqual(winner);
        const again = await call(server, 'POST', '/api/connectors', { body: content(round, name, 'again') });
        expect(again.status).toBe(409);
      }
    }
  });

  it('let exactly one of two concurrent writes with the same If-Match win', async () => {
    const created = await call(a, 'POST', '/api/connectors', { body: content(2, 'conditional', 'c0') });
    expect(created.status).toBe(201);
    const { id } = created.body as Connector;
    let etag = created.etag ?? '';
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(
        [a, b].map((server, i) =>
          call(server, 'PUT', `/api/connectors/${id}`, {
            body: content(2, `conditional ${round} by ${i}`, `c${round}-${i}`),
            headers: { 'if-match': etag },
          }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort(), JSON.stringify(answers)).toEqual([200, 412]);
      const won = answers.find((answer) => answer.status === 200) as Answer;
      const lost = answers.find((answer) => answer.status === 412) as Answer;
      expect((lost.body as { code: string }).code).toBe('PRECONDITION_FAILED');
      // The loser is told the winner's version, and both servers now serve it.
      expect(lost.etag).toBe(won.etag);
      for (const server of [a, b]) {
        const read = await readOnceNoticed(server, id, (seen) => seen.etag === won.etag);
        expect(read.body).toEqual(won.body);
        expect(read.etag).toBe(won.etag);
      }
      etag = won.etag ?? '';
    }

    // A conditional PUT on one server and a conditional DELETE on the other: one of them.
    const [put, del] = await Promise.all([
      call(a, 'PUT', `/api/connectors/${id}`, {
        body: content(2, 'last', 'l'),
        headers: { 'if-match': etag },
      }),
      call(b, 'DELETE', `/api/connectors/${id}`, { headers: { 'if-match': etag } }),
    ]);
    const outcome = [put.status, del.status];
    expect([JSON.stringify([200, 412]), JSON.stringify([404, 204])], JSON.stringify([put, del])).toContain(
      JSON.stringify(outcome),
    );
    const expected = del.status === 204 ? 404 : 200;
    for (const server of [a, b])
      expect((await readOnceNoticed(server, id, (seen) => seen.status === expected)).status).toBe(expected);
  });

  it('serve on one, after a short wait, what the other wrote, and never a connector deleted on the other once seen gone', async () => {
    // Each server keeps the connectors it read (src/store/connector-cache.ts) and drops one when
    // PostgreSQL's notice of another's commit arrives: usually well under a millisecond after the
    // write is acknowledged, so these waits are for a loaded machine.
    const waitMs = { timeoutMs: 2_000, intervalMs: 5 };
    for (let round = 0; round < 5; round++) {
      const created = await call(a, 'POST', '/api/connectors', {
        body: content(round, `kept ${round}`, `k${round}`),
      });
      expect(created.status).toBe(201);
      const { id } = created.body as Connector;
      // Read on B (kept from then on), then changed on A.
      for (let i = 0; i < 3; i++)
        expect((await call(b, 'GET', `/api/connectors/${id}`)).body).toEqual(created.body);
      const updated = await call(a, 'PUT', `/api/connectors/${id}`, {
        body: content(round, `kept ${round} changed`, `k${round}-2`),
      });
      expect(updated.status).toBe(200);
      await waitFor(
        'B to serve the update made on A',
        async () =>
          (await call(b, 'GET', `/api/connectors/${id}`)).etag === updated.etag ? true : undefined,
        waitMs,
      );
      for (let i = 0; i < 10; i++) {
        const read = await call(b, 'GET', `/api/connectors/${id}`);
        expect(read.body).toEqual(updated.body);
        expect(read.etag).toBe(updated.etag);
      }
      expect((await call(a, 'DELETE', `/api/connectors/${id}`)).status).toBe(204);
      await waitFor(
        'B to stop serving the connector deleted on A',
        async () => ((await call(b, 'GET', `/api/connectors/${id}`)).status === 404 ? true : undefined),
        waitMs,
      );
      for (let i = 0; i < 10; i++) expect((await call(b, 'GET', `/api/connectors/${id}`)).status).toBe(404);
    }
  });

  it('accept a key from `plugboard keys create` on both at once, and refuse it on both within 5 s of `keys revoke`', async () => {
    const made = await box.run(
      ['keys', 'create', '--account', 'acme', '--role', 'write', '--label', 'two servers', '--new-account'],
      ENV,
    );
    expect(made.code, made.stderr).toBe(0);
    const [key] = printedKeys(made.stdout);
    const keyId = /Created write key (key_\S+) in account acme/.exec(made.stdout)?.[1];
    expect(key).toBeDefined();
    expect(keyId).toBeDefined();

    // At once, on both: no waiting for a cache.
    const [onA, onB] = await Promise.all(
      [a, b].map((server) => call(server, 'GET', '/api/connectors', { key })),
    );
    expect(onA?.status).toBe(200);
    expect(onB?.status).toBe(200);
    expect(onA?.body).toEqual([]);
    const createdOnA = await call(a, 'POST', '/api/connectors', {
      key,
      body: content(0, 'acme only', 'acme'),
    });
    expect(createdOnA.status).toBe(201);
    const readOnB = await call(b, 'GET', `/api/connectors/${(createdOnA.body as Connector).id}`, { key });
    expect(readOnB.body).toEqual(createdOnA.body);
    // Account acme is its own: the default account's key does not see it on either server.
    expect((await call(b, 'GET', `/api/connectors/${(createdOnA.body as Connector).id}`)).status).toBe(404);

    const revoked = await box.run(['keys', 'revoke', keyId ?? ''], ENV);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`Revoked key ${keyId}`);
    const revokedAt = Date.now();
    // Both used it a moment ago (a successful lookup is reused for up to 2 s); both must refuse it within 5 s.
    await waitFor(
      'the revoked key to be refused on both servers',
      async () => {
        const answers = await Promise.all(
          [a, b].map((server) => call(server, 'GET', '/api/connectors', { key })),
        );
        return answers.every((answer) => answer.status === 401) ? true : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    // For good.
    for (const server of [a, b]) {
      const answer = await call(server, 'POST', '/api/connectors', {
        key,
        body: content(0, 'after revoke', 'r'),
      });
      expect(answer.status).toBe(401);
    }
  });
});

describe('a fresh database', () => {
  function migrationsRun(output: string): 'applied' | 'up to date' | 'other' {
    if (new RegExp(`^Applied ${Object.keys(migrations).length} migration\\(s\\): 0001`).test(output))
      return 'applied';
    if (output.trim() === 'The database is up to date.') return 'up to date';
    return 'other';
  }

  it('is migrated once by ten `plugboard migrate` started at once, and all of them succeed', async () => {
    const { box } = await freshSandbox();
    const started: PlugboardProcess[] = Array.from({ length: 10 }, () =>
      box.spawn(['migrate'], { ...ENV, DATABASE_POOL_SIZE: '2' }),
    );
    const exits = await Promise.all(started.map((process) => process.waitForExit(25_000)));
    exits.forEach((exit, i) => {
      expect(exit, started[i]?.stderr).toEqual({ code: 0, signal: null });
    });
    const outcomes = started.map((process) => migrationsRun(process.stdout));
    expect(outcomes.filter((outcome) => outcome === 'applied')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'up to date')).toHaveLength(9);

    // Every migration recorded once, every table there.
    const check = new pg.Client({ connectionString: box.databaseUrl });
    await check.connect();
    try {
      const recorded = await check.query<{ name: string }>('select name from kysely_migration order by name');
      expect(recorded.rows.map((row) => row.name)).toEqual(Object.keys(migrations));
      const tables = await check.query<{ name: string }>(
        `select table_name as name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      expect(tables.rows.map((row) => row.name)).toEqual(
        expect.arrayContaining(['accounts', 'api_keys', 'audit_events', 'connectors', 'idempotency_keys']),
      );
    } finally {
      await check.end();
    }
  });

  it('lets two servers start at once with the same PLUGBOARD_API_KEY (three times)', async () => {
    for (let round = 0; round < 3; round++) {
      const { box } = await freshSandbox();
      const servers = await Promise.all([box.startServer(ENV, 20_000), box.startServer(ENV, 20_000)]);
      const messages = servers.map((server) => server.logLines().map((line) => line.msg));
      // One of them migrated and made the key; the other found both done.
      expect(messages.filter((lines) => lines.includes('database migrated'))).toHaveLength(1);
      expect(
        messages.filter((lines) =>
          lines.some((msg) => String(msg).startsWith('the key from PLUGBOARD_API_KEY')),
        ),
      ).toHaveLength(1);
      for (const server of servers) {
        expect((await call(server, 'GET', '/api/connectors')).status).toBe(200);
      }
      const listing = await box.run(['keys', 'list'], ENV);
      expect(listing.code, listing.stderr).toBe(0);
      expect(listing.stdout.match(/PLUGBOARD_API_KEY/g)).toHaveLength(1);
      await Promise.all(servers.map((server) => server.kill()));
    }
  });

  it('lets two servers start at once with no key at all: exactly one prints the first key', async () => {
    const { box } = await freshSandbox();
    const noKey = { ...ENV, PLUGBOARD_API_KEY: undefined };
    const servers = await Promise.all([box.startServer(noKey, 20_000), box.startServer(noKey, 20_000)]);
    const printed = servers.flatMap((server) => printedKeys(server.stderr));
    expect(printed).toHaveLength(1);
    for (const server of servers) {
      expect((await call(server, 'GET', '/api/connectors', { key: printed[0] })).status).toBe(200);
    }
    await Promise.all(servers.map((server) => server.kill()));
  });
});

describe('a start with the wrong master key', () => {
  it('is refused with the key id named, never listens, and exits (its connections closed) at once', async () => {
    const { box } = await freshSandbox();
    const first = await box.startServer(ENV, 20_000);
    await first.kill();
    // The app is built while the keys are checked (server.ts): a refusal closes it and the
    // database, or the pool would keep the process from exiting.
    const started = Date.now();
    const refused = box.spawn(['serve'], {
      ...ENV,
      PLUGBOARD_MASTER_KEY: randomBytes(32).toString('base64'),
    });
    const exit = await refused.waitForExit(8_000);
    expect(exit.code, refused.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(refused.stderr).toMatch(
      /plugboard: serve failed: the hash key of the API keys is sealed with master key [0-9a-f]{16}, which PLUGBOARD_MASTER_KEY does not hold/,
    );
    expect(`${refused.stdout}${refused.stderr}`).not.toMatch(/Server listening at|Plugboard is ready/);
  });
});

describe('a start whose app cannot be built (Redis down)', () => {
  it('names the cause, never listens, and exits (its connections closed) at once', async () => {
    const { box } = await freshSandbox();
    // The keys check out but the app's build fails (it connects to Redis): the database must be
    // closed too, or its pool keeps the process alive until the idle connections time out (~30 s).
    const started = Date.now();
    const refused = box.spawn(['serve'], {
      ...ENV,
      PLUGBOARD_RATE_LIMIT: '300/min',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    const exit = await refused.waitForExit(20_000);
    expect(exit.code, refused.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(refused.stderr).toMatch(
      /plugboard: serve failed: REDIS_URL is set, but Redis at redis:\/\/127\.0\.0\.1:1 does not answer/,
    );
    expect(`${refused.stdout}${refused.stderr}`).not.toMatch(/Server listening at|Plugboard is ready/);
  });
});
