/**
 * PostgreSQL going away under a running `plugboard serve` (needs `npm run build` first).
 *
 * Each test makes a database of its own on the shared cluster and "stops" just that database, the
 * way an operator can without stopping the cluster: `ALTER DATABASE … ALLOW_CONNECTIONS false`
 * (new connections are refused) and `pg_terminate_backend` on every connection to it (the open
 * ones die, the queries in flight with them). While it is away every request answers 503 in the
 * API's error shape, quickly (within the pool's connect timeout), never 500, never hanging, and the
 * process keeps running; /healthz answers 503. `ALLOW_CONNECTIONS true` brings it back, and the
 * same process serves again within seconds with every write from before the outage intact.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import { toErrorResponse } from '../src/http/error-handler.js';
import { openDatabase } from '../src/store/database.js';
import { isDatabaseUnavailable } from '../src/store/errors.js';
import { parseDatabaseUrl } from '../src/store/location.js';
import { postgresTestUrl } from './backend.js';
import { type Answer, type RequestOptions, Sandbox, type ServerProcess, waitFor } from './process-helpers.js';

const API_KEY = 'outage-test-key-0123456789abcdef';
const MASTER_KEY = randomBytes(32).toString('base64');
/** POSTGRES_CONNECT_TIMEOUT_MS (5 s) plus room for a loaded machine. */
const ANSWER_WITHIN_MS = 7_000;

let adminPool: pg.Pool | undefined;
/** A pool on the test run's database, to create, stop, start and drop the databases of this file. */
function admin(): pg.Pool {
  if (!adminPool) {
    adminPool = new pg.Pool({ connectionString: postgresTestUrl(), max: 2 });
    adminPool.on('error', () => {});
  }
  return adminPool;
}

const created: string[] = [];
const sandboxes: Sandbox[] = [];
afterEach(async () => {
  await Promise.allSettled(sandboxes.splice(0).map((box) => box.cleanup()));
});
afterAll(async () => {
  for (const name of created.splice(0)) {
    await admin().query(`drop database if exists ${name} with (force)`);
  }
  await adminPool?.end();
});

/** A new, empty database on the test cluster; dropped after the file. */
async function createDatabase(): Promise<{ name: string; url: string }> {
  const name = `plugboard_outage_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin().query(`create database ${name}`);
  created.push(name);
  const url = new URL(postgresTestUrl());
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/**
 * Stops one database: no new connections, and every open one terminated (and gone). `lastPid`, a
 * connection holding locks that others wait for, is terminated only once the others are gone:
 * ending it first would let the waiting queries run (and commit) before their own end.
 */
async function stopDatabase(name: string, lastPid = 0): Promise<void> {
  await admin().query(`alter database ${name} allow_connections false`);
  // A connection that passed the check just before the ALTER may still log in: repeat until none is left.
  for (const spare of [lastPid, 0]) {
    await waitFor(
      `the connections to ${name} to end`,
      async () => {
        const { rows } = await admin().query<{ n: string }>(
          'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1 and pid <> $2',
          [name, spare],
        );
        return rows[0]?.n === '0' ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }
}

async function startDatabase(name: string): Promise<void> {
  await admin().query(`alter database ${name} allow_connections true`);
}

/** One request as the API key, timed; a hang becomes a failure (at 15 s) rather than a stuck test. */
function call(
  server: ServerProcess,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Answer> {
  return server.call(method, path, { key: API_KEY, timeoutMs: 15_000, ...options });
}

/** A request's answer, or why there was none (a promise that never rejects unobserved). */
function settled(answer: Promise<Answer>): Promise<Answer | { error: string }> {
  return answer.catch((error: unknown) => ({
    error: error instanceof Error ? `${error.message} ${String(error.cause ?? '')}` : String(error),
  }));
}

function jira(name: string, marker: string) {
  return {
    name,
    type: 'jira',
    params: { url: 'https://jira.example.com', email: 'ops@example.com', password: `pw-${marker}` },
  };
}

async function listAll(server: ServerProcess): Promise<Connector[]> {
  const answer = await call(server, 'GET', '/api/connectors?max-results=100');
  expect(answer.status).toBe(200);
  return answer.body as Connector[];
}

/** Every write of the server's output that says the process died or nearly did. */
function crashSigns(server: ServerProcess): string[] {
  return server
    .lines()
    .filter((line) => /uncaught|unhandled|shutting down|ERR_UNHANDLED|^\s+at /i.test(line));
}

/** The last lines the server wrote, for a failure message. */
function tail(server: ServerProcess): string {
  return server.lines().filter(Boolean).slice(-8).join('\n');
}

/** A 503 in the API's error shape that says the database is unavailable and leaks nothing. */
function expectDatabaseUnavailable(answer: Answer, what: string): void {
  expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBe(503);
  expect(answer.ms, `${what} took ${answer.ms} ms`).toBeLessThan(ANSWER_WITHIN_MS);
  const body = answer.body as Record<string, unknown>;
  expect(body.status, what).toBe(503);
  expect(body.code, what).toBe('SERVICE_UNAVAILABLE');
  expect(body.message, what).toMatch(/database is not available/);
  for (const field of Object.keys(body))
    expect(['status', 'code', 'message', 'errors'], what).toContain(field);
  if ('errors' in body) expect(Array.isArray(body.errors), what).toBe(true);
  // No driver text: no SQLSTATE wording, no database name, no stack.
  expect(JSON.stringify(body), what).not.toMatch(/terminat|accepting connections|plugboard_outage|\bat \//i);
  expect(answer.headers.get('retry-after'), what).toMatch(/^\d+$/);
}

describe('PostgreSQL outage under a running server', () => {
  it('answers 503 quickly while the database is away, keeps running, and recovers by itself', async () => {
    const database = await createDatabase();
    const box = new Sandbox({ databaseUrl: database.url });
    sandboxes.push(box);
    const server = await box.startServer({
      PLUGBOARD_API_KEY: API_KEY,
      PLUGBOARD_MASTER_KEY: MASTER_KEY,
      DATABASE_POOL_SIZE: '4',
    });

    // Before: a few connectors, with secrets, and one changed.
    for (let i = 0; i < 8; i++) {
      const answer = await call(server, 'POST', '/api/connectors', { body: jira(`before ${i}`, `b${i}`) });
      expect(answer.status).toBe(201);
    }
    const first = (await listAll(server))[0] as Connector;
    const renamed = await call(server, 'PUT', `/api/connectors/${first.id}`, {
      body: jira('before 0 renamed', 'b0-2'),
    });
    expect(renamed.status).toBe(200);
    const etag = renamed.headers.get('etag') ?? '';
    const before = await listAll(server);
    expect(before).toHaveLength(8);
    const target = before[1] as Connector;

    // Queries in flight when the connections die: an admin transaction locks the connectors table,
    // so these requests wait inside PostgreSQL (the writes inside their transaction) until the
    // outage; with 4 pooled connections, the fifth waits for a connection in the pool.
    const locker = new pg.Client({ connectionString: database.url });
    locker.on('error', () => {}); // terminated with the rest
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table connectors in access exclusive mode');
    const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
    const inFlight = {
      list: settled(call(server, 'GET', '/api/connectors')),
      get: settled(call(server, 'GET', `/api/connectors/${target.id}`)),
      create: settled(call(server, 'POST', '/api/connectors', { body: jira('in flight', 'f') })),
      update: settled(
        call(server, 'PUT', `/api/connectors/${target.id}`, { body: jira('in flight update', 'u') }),
      ),
      delete: settled(call(server, 'DELETE', `/api/connectors/${before[2]?.id}`)),
    };
    await waitFor(
      'four requests (the pool size) to wait on the lock',
      async () => {
        const { rows } = await admin().query<{ n: string }>(
          `select count(*) as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'`,
          [database.name],
        );
        return Number(rows[0]?.n) >= 4 ? true : undefined;
      },
      { timeoutMs: 10_000 },
    );

    const stoppedAt = Date.now();
    await stopDatabase(database.name, lockerPid);
    for (const [what, pending] of Object.entries(inFlight)) {
      const answer = await pending;
      if ('error' in answer) {
        throw new Error(
          `in flight: ${what}: no answer (${answer.error}); server exit ${JSON.stringify(server.exit)}:\n${tail(server)}`,
        );
      }
      // Timed from the outage, not from when the request was sent.
      expectDatabaseUnavailable({ ...answer, ms: Date.now() - stoppedAt }, `in flight: ${what}`);
    }
    await locker.end().catch(() => {});

    // While it is away: every kind of request, three rounds (the first ones may still find the key
    // in the server's short key cache; an unknown key always needs the database).
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([
        call(server, 'GET', `/api/connectors/${target.id}`),
        call(server, 'GET', `/api/connectors/name/${encodeURIComponent(target.name)}`),
        call(server, 'GET', '/api/connectors?max-results=10'),
        call(server, 'POST', '/api/connectors', { body: jira(`outage ${round}`, `o${round}`) }),
        call(server, 'POST', '/api/connectors', {
          body: jira(`outage idem ${round}`, `i${round}`),
          headers: { 'idempotency-key': `outage-${round}` },
        }),
        call(server, 'PUT', `/api/connectors/${target.id}`, { body: jira(`outage put ${round}`, 'p') }),
        call(server, 'PUT', `/api/connectors/${first.id}`, {
          body: jira('outage conditional', 'c'),
          headers: { 'if-match': etag },
        }),
        call(server, 'DELETE', `/api/connectors/${target.id}`),
        call(server, 'GET', '/api/audit-events'),
        call(server, 'GET', '/api/connectors', { key: `unknown-key-${round}-0123456789` }),
      ]);
      answers.forEach((answer, i) => {
        expectDatabaseUnavailable(answer, `round ${round}, request ${i}`);
      });

      const health = await call(server, 'GET', '/healthz');
      expect(health.status).toBe(503);
      expect(health.ms).toBeLessThan(ANSWER_WITHIN_MS);
      expect(health.body).toEqual({
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        message: expect.stringMatching(/database/),
      });
      expect(health.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    // Requests that need no database still work.
    expect((await call(server, 'GET', '/api/openapi.json')).status).toBe(200);
    expect(server.running, tail(server)).toBe(true);
    expect(crashSigns(server)).toEqual([]);

    // Back: the same process serves again within seconds, without a restart.
    await startDatabase(database.name);
    const back = Date.now();
    await waitFor(
      'the server to serve again',
      async () => {
        const health = await call(server, 'GET', '/healthz');
        const list = await call(server, 'GET', '/api/connectors?max-results=100');
        return health.status === 200 && list.status === 200 ? true : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(Date.now() - back).toBeLessThan(5_000);

    // Everything written before is there, and nothing that got a 503 was written.
    expect(await listAll(server)).toEqual(before);
    const read = await call(server, 'GET', `/api/connectors/${target.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(target);

    // And writes work again, the idempotency keys of the failed requests included.
    const again = await call(server, 'POST', '/api/connectors', {
      body: jira('outage idem 0', 'i0'),
      headers: { 'idempotency-key': 'outage-0' },
    });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(
      (await call(server, 'PUT', `/api/connectors/${target.id}`, { body: jira('after', 'a') })).status,
    ).toBe(200);
    expect((await call(server, 'DELETE', `/api/connectors/${before[3]?.id}`)).status).toBe(204);
    expect(await listAll(server)).toHaveLength(8);

    expect(server.running, tail(server)).toBe(true);
    expect(crashSigns(server)).toEqual([]);
    // The 503s were logged as such, and never as a 500.
    const logged = server.logLines();
    expect(logged.some((line) => line.msg === 'request failed')).toBe(true);
    const statuses = new Set(logged.filter((line) => line.msg === 'request').map((line) => line.status));
    expect(statuses).toContain(503);
    expect(statuses).not.toContain(500);

    server.signal('SIGTERM');
    expect(await server.waitForExit(10_000)).toEqual({ code: 0, signal: null });
  });

  it('stops a server started while the database refuses connections, naming host:port/database', async () => {
    const database = await createDatabase();
    await admin().query(`alter database ${database.name} allow_connections false`);
    const box = new Sandbox({ databaseUrl: database.url });
    sandboxes.push(box);
    const started = Date.now();
    const result = await box.run(['serve'], { PLUGBOARD_API_KEY: API_KEY, PLUGBOARD_MASTER_KEY: MASTER_KEY });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach PostgreSQL at 127.0.0.1:5432/${database.name}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('fails a transaction whose connection dies between two statements as unavailable, and nothing else', async () => {
    // In process, on the database layer itself: a connection that dies while a transaction holds
    // it idle (not in a query) must fail that transaction, not emit an unhandled 'error' (which
    // vitest reports, and which stopped the server process).
    const database = await createDatabase();
    const handle = openDatabase(parseDatabaseUrl(database.url), { poolSize: 2 });
    const probe = new pg.Client({ connectionString: database.url });
    probe.on('error', () => {});
    let probeEnded = false;
    probe.on('end', () => {
      probeEnded = true;
    });
    try {
      await sql`select 1`.execute(handle.db);
      await probe.connect();
      let resume = () => {};
      const paused = new Promise<void>((resolve) => {
        resume = resolve;
      });
      let begun = () => {};
      const inTransaction = new Promise<void>((resolve) => {
        begun = resolve;
      });
      const outcome = handle.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 1`.execute(trx);
          begun();
          await paused;
          await sql`select 2`.execute(trx);
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      await inTransaction;
      await stopDatabase(database.name);
      // The probe's connection closed with the transaction's: its end has reached this process too.
      await waitFor('the probe connection to see its end', () => (probeEnded ? true : undefined));
      resume();
      const error = await outcome;
      expect(error).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(error), String(error)).toBe(true);
      expect(toErrorResponse(error, 1024).body).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });

      // While it is away, a query fails fast, as unavailable; once back, the same handle works.
      const started = Date.now();
      const refused = await sql`select 1`.execute(handle.db).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(isDatabaseUnavailable(refused), String(refused)).toBe(true);
      expect(Date.now() - started).toBeLessThan(ANSWER_WITHIN_MS);
      await startDatabase(database.name);
      await handle.ping();
      const { rows } = await sql<{ n: number }>`select 2 as n`.execute(handle.db);
      expect(rows).toEqual([{ n: 2 }]);
    } finally {
      await probe.end().catch(() => {});
      await handle.close();
    }
  });
});
