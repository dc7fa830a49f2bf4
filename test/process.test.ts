import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
/**
 * The real `plugboard serve` process: durability across SIGKILL, graceful shutdown, first-start
 * key, PLUGBOARD_API_KEY, configuration errors, and /healthz. Needs `npm run build` first.
 */
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import {
  freshRequest,
  printedKeys,
  type RawResponse,
  type ServerProcess,
  sandboxPerTest,
  sleep,
  slowPost,
  withTimeout,
} from './process-helpers.js';

const sandbox = sandboxPerTest();

const API_KEY = 'process-test-key-0123456789abcdef';

function connectorBody(i: number, marker = 'v1') {
  switch (i % 3) {
    case 0:
      return { name: `slack ${i} ${marker}`, type: 'slack', params: {} };
    case 1:
      return {
        name: `discord ${i} ${marker}`,
        type: 'discord',
        params: { url: `https://discord.example.com/${marker}/${i}` },
      };
    default:
      return {
        name: `jira ${i} ${marker}`,
        type: 'jira',
        params: {
          url: `https://jira-${i}.example.com`,
          email: `ops${i}@example.com`,
          password: `pw-${marker}-${i}`,
        },
      };
  }
}

async function listAll(server: ServerProcess, key: string): Promise<Connector[]> {
  const all: Connector[] = [];
  for (let page = 0; page < 20; page++) {
    const response = await server.request(
      'GET',
      `/api/connectors?start-index=${page * 100}&max-results=100`,
      {
        key,
      },
    );
    expect(response.status).toBe(200);
    const items = (await response.json()) as Connector[];
    all.push(...items);
    if (items.length < 100) return all;
  }
  throw new Error('more than 20 pages of connectors');
}

/** Runs `tasks` concurrently in batches of `size`. */
async function inBatches<T>(tasks: (() => Promise<T>)[], size: number): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += size) {
    results.push(...(await Promise.all(tasks.slice(i, i + size).map((task) => task()))));
  }
  return results;
}

describe('durability', () => {
  it('keeps every acknowledged write across SIGKILL, and the file passes integrity_check', async () => {
    const box = sandbox();
    let server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const expected = new Map<string, Connector>();
    const deleted: string[] = [];

    // 30 creates, 6 at a time.
    const created = await inBatches(
      Array.from({ length: 30 }, (_, i) => async () => {
        const response = await server.request('POST', '/api/connectors', {
          key: API_KEY,
          body: connectorBody(i),
        });
        expect(response.status).toBe(201);
        return (await response.json()) as Connector;
      }),
      6,
    );
    for (const connector of created) expected.set(connector.id, connector);

    // 10 updates and 10 deletes of other connectors, interleaved, 5 at a time.
    const mixed = created.slice(0, 20).map((connector, i) =>
      i % 2 === 0
        ? async () => {
            const body = connectorBody(i, 'v2');
            const response = await server.request('PUT', `/api/connectors/${connector.id}`, {
              key: API_KEY,
              body: { ...body, type: connector.type },
            });
            expect(response.status).toBe(200);
            const updated = (await response.json()) as Connector;
            expect(updated.name).toBe(body.name);
            expected.set(updated.id, updated);
          }
        : async () => {
            const response = await server.request('DELETE', `/api/connectors/${connector.id}`, {
              key: API_KEY,
            });
            expect(response.status).toBe(204);
            expected.delete(connector.id);
            deleted.push(connector.id);
          },
    );
    await inBatches(mixed, 5);
    expect(expected.size).toBe(20);
    expect(deleted).toHaveLength(10);

    // No grace at all: the process dies right after the last acknowledgement.
    server.signal('SIGKILL');
    expect((await server.waitForExit(5_000)).signal).toBe('SIGKILL');

    server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const after = await listAll(server, API_KEY);
    expect(after).toHaveLength(expected.size);
    const byId = new Map(after.map((connector) => [connector.id, connector]));
    for (const [id, acknowledged] of expected) expect(byId.get(id)).toEqual(acknowledged);
    for (const id of deleted) {
      const response = await server.request('GET', `/api/connectors/${id}`, { key: API_KEY });
      expect(response.status).toBe(404);
    }
    // The updated ones really carry the new values (not only equal to whatever came back).
    const updatedCount = [...expected.values()].filter((c) => c.name.endsWith(' v2')).length;
    expect(updatedCount).toBe(10);

    server.signal('SIGKILL');
    await server.waitForExit(5_000);

    const sqlite = new SqliteDatabase(box.dbPath);
    try {
      expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
      const row = sqlite.prepare('select count(*) as n from connectors').get() as { n: number };
      expect(row.n).toBe(expected.size);
    } finally {
      sqlite.close();
    }
  });
});

describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: finishes requests in flight, then exits 0`, async () => {
      const box = sandbox();
      const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });

      // Five POSTs whose headers (and half a body) have arrived: accepted and in flight.
      const slow = Array.from({ length: 5 }, (_, i) =>
        slowPost(server.url, '/api/connectors', API_KEY, connectorBody(i, `slow-${signal}`)),
      );
      await Promise.all(slow.map((request) => request.connected));
      await sleep(150);

      // A burst of quick requests, signalled as soon as their connections are up.
      const burst = Array.from({ length: 8 }, (_, i) =>
        freshRequest(server.url, '/api/connectors', {
          method: 'POST',
          key: API_KEY,
          body: connectorBody(100 + i, `burst-${signal}`),
        }),
      );
      await withTimeout(
        Promise.allSettled(burst.map((request) => request.connected)),
        5_000,
        'the burst to connect',
      );
      server.signal(signal);
      const burstOutcomes = Promise.all(
        burst.map((request) =>
          request.response.then(
            (response): RawResponse | { error: string } => response,
            (error: NodeJS.ErrnoException) => ({ error: error.code ?? error.message }),
          ),
        ),
      );

      // While the slow requests are pending, the process waits for them.
      await sleep(300);
      expect(server.running).toBe(true);
      for (const request of slow) request.finish();

      const responses = await Promise.all(slow.map((request) => request.response));
      for (const response of responses) expect(response.status, response.body).toBe(201);

      // Quick requests: each was answered (created, or 503 once closing), or its connection was
      // dropped before the service read the request (an idle connection, closed on shutdown).
      for (const outcome of await burstOutcomes) {
        if ('error' in outcome) expect(outcome.error).toBe('ECONNRESET');
        else expect([201, 503], outcome.body).toContain(outcome.status);
      }

      const exit = await server.waitForExit(10_000);
      expect(exit).toEqual({ code: 0, signal: null });
      const messages = server.logLines().map((line) => line.msg);
      expect(messages).toContain('shutting down: finishing requests in flight');
      expect(messages).toContain('stopped');

      // The in-flight creates were committed.
      const sqlite = new SqliteDatabase(box.dbPath, { readonly: true });
      try {
        const names = (sqlite.prepare('select name from connectors').all() as { name: string }[]).map(
          (row) => row.name,
        );
        for (let i = 0; i < 5; i++) expect(names).toContain(connectorBody(i, `slow-${signal}`).name);
      } finally {
        sqlite.close();
      }
    });
  }
});

describe('first start', () => {
  it('prints a generated write key once on stderr, never logs it, and serves /healthz', async () => {
    const box = sandbox();
    const first = await box.startServer({ LOG_LEVEL: 'trace' });
    const keys = printedKeys(first.stderr);
    expect(keys).toHaveLength(1);
    const key = keys[0] ?? '';
    expect(key).toMatch(/^pb_/);

    const health = await first.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', ageMs: expect.any(Number) });

    const create = await first.request('POST', '/api/connectors', { key, body: connectorBody(0) });
    expect(create.status).toBe(201);
    const list = await first.request('GET', '/api/connectors', { key });
    expect(list.status).toBe(200);
    expect(await list.json()).toHaveLength(1);
    const wrong = await first.request('GET', '/api/connectors', { key: `${key}x` });
    expect(wrong.status).toBe(401);

    first.signal('SIGTERM');
    expect((await first.waitForExit()).code).toBe(0);
    const logs = first.rawLogLines();
    expect(logs.length).toBeGreaterThan(3);
    for (const line of logs) expect(line).not.toContain(key);
    // stdout is the log alone, a JSON object a line, for log collectors to parse; the key is not in it.
    expect(first.stdout).not.toContain(key);
    const stdoutLines = first.stdout.split('\n').filter((line) => line !== '');
    expect(stdoutLines).toEqual(logs);

    // The database and its key file are the owner's only.
    for (const file of [box.dbPath, `${box.dbPath}.key`])
      expect(statSync(file).mode & 0o777, file).toBe(0o600);

    const second = await box.startServer({ LOG_LEVEL: 'trace' });
    expect(printedKeys(second.stderr)).toEqual([]);
    expect(second.stdout).not.toContain('pb_');
    expect(second.stderr).not.toContain('pb_');
    const again = await second.request('GET', '/api/connectors', { key });
    expect(again.status).toBe(200);
  });
});

describe('the first key cannot be lost (issue 11, finding 11)', () => {
  it('a start that cannot listen creates no key; the next start that listens shows one', async () => {
    const box = sandbox();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const failed = await box.run(['serve'], { PORT: String(port) });
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toMatch(new RegExp(`PORT ${port} .*already in use`));
      // The banner goes to stderr (stdout is the JSON log): neither may hold a key.
      expect(printedKeys(failed.stderr)).toEqual([]);
      expect(`${failed.stdout}${failed.stderr}`).not.toContain('pb_');
    } finally {
      blocker.close();
    }
    const second = await box.startServer();
    const keys = printedKeys(second.stderr);
    expect(keys).toHaveLength(1);
    expect((await second.request('GET', '/api/connectors', { key: keys[0] ?? '' })).status).toBe(200);
  });

  it('a malformed PLUGBOARD_MASTER_KEY is refused before the database is created', async () => {
    const box = sandbox();
    for (const env of [
      { PLUGBOARD_MASTER_KEY: 'not-a-key' },
      { PLUGBOARD_MASTER_KEY: randomBytes(32).toString('base64'), PLUGBOARD_PREVIOUS_MASTER_KEYS: 'short' },
      { PLUGBOARD_PREVIOUS_MASTER_KEYS: randomBytes(32).toString('base64') },
    ]) {
      const refused = await box.run(['serve'], env);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/PLUGBOARD_(PREVIOUS_)?MASTER_KEY/);
      expect(existsSync(box.dbPath), 'the database file').toBe(false);
      expect(printedKeys(refused.stdout)).toEqual([]);
    }
  });

  it('PostgreSQL without PLUGBOARD_MASTER_KEY is refused before the database is reached', async () => {
    // Nothing listens on port 1: a start that went to the database first would say it cannot
    // reach it (and, on a PostgreSQL that answers, migrate it before refusing).
    const refused = await sandbox().run(['serve'], {
      DATABASE_URL: 'postgres://plugboard@127.0.0.1:1/plugboard',
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/PLUGBOARD_MASTER_KEY is not set/);
  });
});

describe('PLUGBOARD_API_KEY', () => {
  it('makes that exact value a write key of account default', async () => {
    const box = sandbox();
    const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    expect(printedKeys(server.stderr)).toEqual([]);
    expect(server.stdout).not.toContain(API_KEY);

    const create = await server.request('POST', '/api/connectors', { key: API_KEY, body: connectorBody(1) });
    expect(create.status).toBe(201);
    const other = await server.request('GET', '/api/connectors', { key: `${API_KEY}0` });
    expect(other.status).toBe(401);

    server.signal('SIGTERM');
    await server.waitForExit();
    const listing = await box.run(['keys', 'list', '--account', 'default']);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/PLUGBOARD_API_KEY\s+default\s+write/);
    expect(listing.stdout).not.toContain(API_KEY);
  });

  it('a database an earlier version left unkeyed is rewritten keyed at start, logged, and every key still works', async () => {
    const box = sandbox();
    const first = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const made = await box.run(['keys', 'create', '--account', 'acme', '--role', 'write', '--new-account']);
    expect(made.code, made.stderr).toBe(0);
    const cliKey = made.stdout.trimEnd().split('\n').at(-1) ?? '';
    first.signal('SIGTERM');
    await first.waitForExit();

    // What the version before keyed hashes stored: the SHA-256 of each key.
    const sqlite = new SqliteDatabase(box.dbPath);
    const digest = (key: string) => createHash('sha256').update(key).digest('hex');
    try {
      const rows = sqlite.prepare('select id from api_keys order by created_at').all() as { id: string }[];
      expect(rows).toHaveLength(2);
      const update = sqlite.prepare('update api_keys set key_hash = ? where id = ?');
      update.run(digest(API_KEY), rows[0]?.id);
      update.run(digest(cliKey), rows[1]?.id);
    } finally {
      sqlite.close();
    }

    const second = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    expect(second.logLines()).toContainEqual(
      expect.objectContaining({
        msg: expect.stringMatching(/stored hashes rewritten as keyed hashes/),
        apiKeys: 2,
      }),
    );
    for (const key of [API_KEY, cliKey]) {
      expect((await second.request('GET', '/api/connectors', { key })).status).toBe(200);
    }
    const check = new SqliteDatabase(box.dbPath, { readonly: true });
    try {
      const hashes = check.prepare('select key_hash from api_keys').all() as { key_hash: string }[];
      expect(hashes.map((row) => row.key_hash.slice(0, 5))).toEqual(['hmac:', 'hmac:']);
    } finally {
      check.close();
    }
  });

  it('refuses a value shorter than 16 characters without repeating it', async () => {
    const box = sandbox();
    const value = 'Short1Secret15c';
    expect(value).toHaveLength(15);
    const result = await box.run(['serve'], { PLUGBOARD_API_KEY: value });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain('PLUGBOARD_API_KEY');
    expect(`${result.stdout}${result.stderr}`).not.toContain(value);
  });
});

describe('configuration errors', () => {
  it('stops with a message naming the PostgreSQL it cannot use, never its password', async () => {
    const box = sandbox();
    const urls = [
      'postgres://user:pw@127.0.0.1:1/db',
      'postgresql://postgres:Sup3rSecretPassw0rd@127.0.0.1:5432/no_such_database_here',
      'postgres://admin:Sup3rSecretPassw0rd@127.0.0.1:5432',
    ];
    // With a master key: PostgreSQL without one is refused before it is reached.
    const masterKey = randomBytes(32).toString('base64');
    const results = await Promise.all(
      urls.map((url) => box.run(['serve'], { DATABASE_URL: url, PLUGBOARD_MASTER_KEY: masterKey })),
    );
    expect(results[0]?.stderr).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:1\/db/);
    // "has no such database" where PostgreSQL runs (this machine kind), "cannot reach" where it does not.
    expect(results[1]?.stderr).toMatch(
      /PostgreSQL at 127\.0\.0\.1:5432\/no_such_database_here (has no such database|\()/,
    );
    expect(results[2]?.stderr).toMatch(/DATABASE_URL names no PostgreSQL database/);
    for (const result of results) {
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBeNull();
      const output = `${result.stdout}${result.stderr}`;
      expect(output).not.toContain('pw');
      expect(output).not.toContain('Sup3rSecretPassw0rd');
      expect(output).not.toContain('user:');
      expect(output).not.toMatch(/\n\s+at /);
    }
  });

  it('refuses an invalid PORT with a clear error', async () => {
    const box = sandbox();
    const ports = ['not-a-port', '70000', '-1'];
    const results = await Promise.all(ports.map((port) => box.run(['serve'], { PORT: port })));
    results.forEach((result, i) => {
      const port = ports[i];
      expect(result.code, port).not.toBe(0);
      expect(result.code, port).not.toBeNull();
      expect(result.stderr, port).toMatch(/PORT/);
      expect(result.stderr, port).not.toMatch(/\n\s+at /); // a message, not a stack trace
    });
  });

  it('refuses a HOST that is not an address of this machine, and a PORT in use, naming the setting', async () => {
    const box = sandbox();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const [host, inUse] = await Promise.all([
        box.run(['serve'], { HOST: 'no-such-host.invalid', PLUGBOARD_API_KEY: API_KEY }),
        box.run(['serve'], { PORT: String(port), PLUGBOARD_API_KEY: API_KEY }),
      ]);
      expect(host.code).not.toBe(0);
      expect(host.stderr).toMatch(/HOST no-such-host\.invalid/);
      expect(inUse.code).not.toBe(0);
      expect(inUse.stderr).toMatch(new RegExp(`PORT ${port} .*already in use`));
    } finally {
      blocker.close();
    }
  });
});
