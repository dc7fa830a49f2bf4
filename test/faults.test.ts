/**
 * Faults, on the real `plugboard serve` process (needs `npm run build` first):
 * - SIGKILL in the middle of bursts of concurrent creates and updates, 20 times on one database:
 *   every acknowledged write survives, nothing is half-written, the file passes integrity_check;
 * - the database refusing writes (another process holds the write lock; the disk is full): 503
 *   SERVICE_UNAVAILABLE in the error shape with Retry-After, never a 500, /healthz 503, and the
 *   same process serves again once the fault clears.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { freshRequest, type RawResponse, Sandbox, type ServerProcess, waitFor } from './process-helpers.js';
import { prng } from './random.js';

const API_KEY = 'faults-test-key-0123456789abcdef';

interface Content {
  type: string;
  name: string;
  params: Record<string, string>;
}

interface Connector extends Content {
  id: string;
}

const sandboxes: Sandbox[] = [];
function sandbox(): Sandbox {
  const created = new Sandbox();
  sandboxes.push(created);
  return created;
}
afterEach(async () => {
  await Promise.allSettled(sandboxes.splice(0).map((s) => s.cleanup()));
});

/** Types with no, one and two secrets, so that reading back also proves the secrets open. */
function content(type: string, name: string, marker: string): Content {
  switch (type) {
    case 'jira':
      return {
        type,
        name,
        params: {
          url: `https://jira.example.com/${marker}`,
          email: `${marker}@example.com`,
          password: `pw-${marker}`,
        },
      };
    case 'dingtalk':
      return {
        type,
        name,
        params: {
          url: `https://oapi.dingtalk.com/robot/send?access_token=${marker}`,
          secret: `SEC-${marker}`,
        },
      };
    case 'dynamic':
      return {
        type,
        name,
        params: { url: `https://hooks.example.com/${marker}`, authorization: `Bearer ${marker}` },
      };
    default:
      return { type: 'slack', name, params: {} };
  }
}
const types = ['jira', 'dingtalk', 'dynamic', 'slack'];

function same(a: Content, b: Content): boolean {
  return a.type === b.type && a.name === b.name && JSON.stringify(a.params) === JSON.stringify(b.params);
}

/** fetch with a generous time limit: a server waiting on a locked database answers after busy_timeout. */
async function call(
  server: ServerProcess,
  method: string,
  path: string,
  { key, body }: { key?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function listAll(server: ServerProcess): Promise<Connector[]> {
  const all: Connector[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await call(server, 'GET', `/api/connectors?start-index=${offset}&max-results=100`, {
      key: API_KEY,
    });
    expect(page.status, page.text).toBe(200);
    const items = JSON.parse(page.text) as Connector[];
    all.push(...items);
    if (items.length < 100) return all;
  }
}

/** The 503 every database fault must produce: the error shape, Retry-After, no internal text. */
function expectUnavailable(response: { status: number; headers: Headers; text: string }): void {
  expect(response.status, response.text).toBe(503);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
  const body = JSON.parse(response.text) as Record<string, unknown>;
  expect(body.status).toBe(503);
  expect(body.code).toBe('SERVICE_UNAVAILABLE');
  expect(typeof body.message).toBe('string');
  for (const key of Object.keys(body)) expect(['status', 'code', 'message', 'errors']).toContain(key);
  expect(response.text).not.toMatch(/sqlite|locked|disk|SQLITE_|stack|\bat\s/i);
}

function integrityCheck(path: string): void {
  const sqlite = new SqliteDatabase(path);
  try {
    expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(sqlite.pragma('foreign_key_check')).toEqual([]);
  } finally {
    sqlite.close();
  }
}

describe('SIGKILL during bursts of concurrent writes', () => {
  it('keeps every acknowledged write over 20 kills on one database, with nothing half-written', async () => {
    const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const context = `FAULTS_SEED=${seed}`;
    const ROUNDS = 20;
    const BURST = 40;

    const box = sandbox();
    /** Acknowledged connectors: every write to each, in order, and whether it was acknowledged. */
    const tracked = new Map<string, { writes: { content: Content; acked: boolean }[] }>();
    /** Creates never acknowledged: they may or may not have committed. By name. */
    const unackedCreates = new Map<string, Content>();
    const rounds: { acked: number; inFlightAtKill: number }[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
      // Each tracked connector gets at most one update per burst, so that the writes to one
      // connector are ordered: a round ends (the process dies) before the next begins.
      const candidates = [...tracked.keys()].sort(() => random() - 0.5);
      const writes = Array.from({ length: BURST }, (_, i) => {
        const marker = `r${round}w${i}`;
        const id = i % 2 === 1 ? candidates.pop() : undefined;
        if (id !== undefined) {
          const last = tracked.get(id)?.writes.at(-1)?.content as Content;
          return { id, content: content(last.type, `updated ${marker}`, marker) };
        }
        return { id: undefined, content: content(pick(types), `created ${marker}`, marker) };
      });

      let settled = 0;
      const requests = writes.map((write) => {
        const request = freshRequest(
          server.url,
          write.id ? `/api/connectors/${write.id}` : '/api/connectors',
          {
            method: write.id ? 'PUT' : 'POST',
            key: API_KEY,
            body: write.content,
          },
        );
        request.response.then(
          () => settled++,
          () => settled++,
        );
        return request;
      });

      // Kill once a random number of the 40 have been answered, with the rest in flight.
      const answeredBeforeKill = Math.floor(random() * (BURST - 5));
      await waitFor('answers before the kill', () => (settled >= answeredBeforeKill ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 1,
      });
      const inFlightAtKill = BURST - settled;
      server.child.kill('SIGKILL');
      expect((await server.waitForExit(5_000)).signal).toBe('SIGKILL');

      const outcomes = await Promise.allSettled(requests.map((request) => request.response));
      let acked = 0;
      outcomes.forEach((outcome, i) => {
        const write = writes[i];
        if (!write) return;
        const response: RawResponse | undefined = outcome.status === 'fulfilled' ? outcome.value : undefined;
        // An answer that arrived is 200 (nothing else can make these writes fail); a cut one is not one.
        let stored: Connector | undefined;
        if (response) {
          expect(response.status, `${context} ${response.body}`).toBe(200);
          try {
            stored = JSON.parse(response.body) as Connector;
          } catch {
            stored = undefined; // the body was cut by the kill: not acknowledged
          }
        }
        if (stored) {
          acked++;
          expect(same(stored, write.content), context).toBe(true);
        }
        if (write.id) {
          tracked.get(write.id)?.writes.push({ content: write.content, acked: stored !== undefined });
        } else if (stored) {
          tracked.set(stored.id, { writes: [{ content: write.content, acked: true }] });
        } else {
          unackedCreates.set(write.content.name, write.content);
        }
      });
      rounds.push({ acked, inFlightAtKill });
    }

    // The kills really landed mid-burst, and something was acknowledged each time.
    expect(rounds.filter((r) => r.inFlightAtKill > 0).length, `${context} ${JSON.stringify(rounds)}`).toBe(
      ROUNDS,
    );
    expect(rounds.reduce((sum, r) => sum + r.acked, 0)).toBeGreaterThan(ROUNDS * 5);

    const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const listed = await listAll(server);
    const byId = new Map(listed.map((connector) => [connector.id, connector]));
    expect(byId.size, 'no connector is listed twice').toBe(listed.length);

    for (const [id, { writes }] of tracked) {
      const found = byId.get(id);
      expect(found, `${context}: acknowledged connector ${id} is missing`).toBeDefined();
      if (!found) continue;
      // The last acknowledged write, or a later unacknowledged one that may have committed.
      const lastAcked = writes.map((write) => write.acked).lastIndexOf(true);
      const allowed = writes.slice(lastAcked).map((write) => write.content);
      expect(
        allowed.some((candidate) => same(found, candidate)),
        `${context}: ${id} reads ${JSON.stringify(found)}, expected one of ${JSON.stringify(allowed)}`,
      ).toBe(true);
    }
    for (const connector of listed) {
      if (tracked.has(connector.id)) continue;
      // Committed but never acknowledged: it must be exactly what was sent.
      const sent = unackedCreates.get(connector.name);
      expect(sent, `${context}: unexpected connector ${JSON.stringify(connector)}`).toBeDefined();
      if (sent) expect(same(connector, sent), context).toBe(true);
    }
    // Every connector reads back one by one (its secrets open).
    for (const connector of listed) {
      const one = await call(server, 'GET', `/api/connectors/${connector.id}`, { key: API_KEY });
      expect(one.status, one.text).toBe(200);
      expect(JSON.parse(one.text)).toEqual(connector);
    }
    server.signal('SIGTERM');
    expect((await server.waitForExit(10_000)).code).toBe(0);

    integrityCheck(box.dbPath);
    // A connector and its audit event commit together: every connector has its create event.
    const sqlite = new SqliteDatabase(box.dbPath, { readonly: true });
    try {
      const orphans = sqlite
        .prepare(
          `select id from connectors c where not exists
             (select 1 from audit_events a where a.connector_id = c.id and a.action = 'create')`,
        )
        .all();
      expect(orphans).toEqual([]);
    } finally {
      sqlite.close();
    }
  }, 90_000);
});

describe('database faults', () => {
  it('answers 503 while another process holds the write lock, and serves again once it is released', async () => {
    const box = sandbox();
    const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const first = await call(server, 'POST', '/api/connectors', {
      key: API_KEY,
      body: content('jira', 'before', 'b'),
    });
    expect(first.status, first.text).toBe(200);
    const pid = server.child.pid;

    // Another process (a backup, a stuck `sqlite3` shell) holds the write lock past busy_timeout (5 s).
    const holder = new SqliteDatabase(box.dbPath);
    holder.exec('begin immediate');
    try {
      expectUnavailable(
        await call(server, 'POST', '/api/connectors', { key: API_KEY, body: content('jira', 'during', 'd') }),
      );
      const health = await call(server, 'GET', '/healthz');
      expectUnavailable(health);
      // Reads do not need the write lock (WAL), but each write above blocked the event loop for
      // busy_timeout (better-sqlite3 is synchronous), so the overload guard may still be refusing.
      const list = await call(server, 'GET', '/api/connectors', { key: API_KEY });
      if (list.status === 200)
        expect((JSON.parse(list.text) as Connector[]).map((c) => c.name)).toEqual(['before']);
      else expectUnavailable(list);
    } finally {
      holder.exec('rollback');
      holder.close();
    }

    // The same process, no restart.
    expect(server.running).toBe(true);
    expect(server.child.pid).toBe(pid);
    const health = await call(server, 'GET', '/healthz');
    expect(health.status, health.text).toBe(200);
    // Each refused write held the event loop for busy_timeout, so the overload guard may answer
    // 503 for a moment more: retry as a client would, honouring Retry-After, for a bounded time.
    const after = await waitFor(
      'a write to succeed after the lock is released',
      async () => {
        const response = await call(server, 'POST', '/api/connectors', {
          key: API_KEY,
          body: content('jira', 'after', 'a'),
        });
        if (response.status === 503) {
          expectUnavailable(response);
          return undefined;
        }
        return response;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(after.status, after.text).toBe(200);
    expect((await listAll(server)).map((c) => c.name)).toEqual(['before', 'after']);
    const errors = server.logLines().filter((line) => Number(line.level) >= 50);
    expect(errors.length).toBeGreaterThan(0); // the 503s are logged, with the driver's error
    for (const line of server.rawLogLines()) expect(line).not.toContain('"status":500');

    server.signal('SIGTERM');
    await server.waitForExit(10_000);
    integrityCheck(box.dbPath);
  }, 60_000);

  it('answers 503 while the disk is full, and serves again once space is freed (root only: mounts a tmpfs)', async (context) => {
    const box = sandbox();
    const mountPoint = box.dir;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    } catch {
      context.skip('cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)');
      return;
    }
    let server: ServerProcess | undefined;
    try {
      server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
      const big = (name: string) => {
        const base = content('jira', name, name.replaceAll(' ', '-'));
        return {
          ...base,
          params: { ...base.params, email: 'e'.repeat(30_000), password: 'p'.repeat(30_000) },
        };
      };
      const first = await call(server, 'POST', '/api/connectors', { key: API_KEY, body: big('before') });
      expect(first.status, first.text).toBe(200);

      // Fill the file system.
      const filler = join(mountPoint, 'filler');
      mkdirSync(mountPoint, { recursive: true });
      const fd = openSync(filler, 'w');
      try {
        const chunk = Buffer.alloc(64 * 1024, 1);
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(fd);
      }

      // Writes fail (a commit that fits in WAL space already allocated may still succeed): 503, never 500.
      const during: string[] = [];
      let refused = 0;
      for (let i = 0; i < 5; i++) {
        const response = await call(server, 'POST', '/api/connectors', {
          key: API_KEY,
          body: big(`during ${i}`),
        });
        if (response.status === 200) during.push(`during ${i}`);
        else {
          expectUnavailable(response);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
      const list = await call(server, 'GET', '/api/connectors', { key: API_KEY });
      expect(list.status).toBe(200);

      rmSync(filler);
      const after = await call(server, 'POST', '/api/connectors', { key: API_KEY, body: big('after') });
      expect(after.status, after.text).toBe(200);
      const health = await call(server, 'GET', '/healthz');
      expect(health.status).toBe(200);
      expect((await listAll(server)).map((c) => c.name)).toEqual(['before', ...during, 'after']);
      for (const line of server.rawLogLines()) expect(line).not.toContain('"status":500');

      server.signal('SIGTERM');
      expect((await server.waitForExit(10_000)).code).toBe(0);
      integrityCheck(box.dbPath);
    } finally {
      await server?.kill();
      execFileSync('umount', [mountPoint], { stdio: 'ignore' });
    }
  }, 60_000);
});
