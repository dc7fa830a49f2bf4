/**
 * Faults, on the real `plugboard serve` process (needs `npm run build` first):
 * - SIGKILL in the middle of bursts of concurrent creates (some with an Idempotency-Key), updates
 *   and deletes, 20 times on one database; after each kill the file as it was left passes
 *   integrity_check, and after each restart every acknowledged write is there, nothing
 *   half-written, and a retried keyed create is replayed or made once;
 * - another process holding the write lock: reads go on at once, writes wait for it without
 *   blocking the server and then succeed, or get 503 after 5 s;
 * - the disk full: 503 SERVICE_UNAVAILABLE in the error shape with Retry-After, never a 500, and
 *   the same process serves again once the fault clears.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type RawResponse, Sandbox, type ServerProcess, sleep, waitFor } from './process-helpers.js';
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

/** fetch with a generous time limit: a server waiting on a locked database answers after 5 s. */
async function call(
  server: ServerProcess,
  method: string,
  path: string,
  { key, body, headers: extra = {} }: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = { ...extra };
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
    // A connector and its audit event commit together: every connector has its create event.
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
}

/**
 * integrity_check on the database as a SIGKILL left it (its WAL not checkpointed), on a copy of
 * the file and its WAL: opening the copy replays the WAL there, not in the original.
 */
function integrityCheckAsKilled(box: Sandbox): void {
  const dir = join(box.dir, 'as-killed');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const copy = join(dir, 'p.db');
  copyFileSync(box.dbPath, copy);
  // A clean close checkpoints and deletes the WAL; after a kill it is still there.
  expect(existsSync(`${box.dbPath}-wal`)).toBe(true);
  copyFileSync(`${box.dbPath}-wal`, `${copy}-wal`);
  integrityCheck(copy);
}

/** A request on its own connection (see freshRequest), with more headers. */
function burstRequest(
  url: string,
  method: string,
  path: string,
  body: unknown,
  extra: Record<string, string>,
): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}`, ...extra };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const request = http.request(`${url}${path}`, { method, agent: false, timeout: 10_000, headers });
    request.once('error', reject);
    request.once('timeout', () => request.destroy(new Error('request timed out')));
    request.once('response', (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => {
        text += chunk;
      });
      // Only a complete answer resolves: one cut by the kill is no acknowledgement.
      incoming.once('end', () =>
        incoming.complete
          ? resolve({ status: incoming.statusCode ?? 0, body: text })
          : reject(new Error('the answer was cut')),
      );
      incoming.once('error', reject);
    });
    request.end(payload);
  });
}

type BurstWrite =
  | { readonly kind: 'create'; readonly content: Content; readonly idempotencyKey: string | undefined }
  | { readonly kind: 'update'; readonly id: string; readonly content: Content }
  | { readonly kind: 'delete'; readonly id: string };

describe('SIGKILL during bursts of concurrent writes', () => {
  it('keeps every acknowledged write over 20 kills on one database, checked after each, with nothing half-written', async () => {
    const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const context = `FAULTS_SEED=${seed}`;
    const ROUNDS = 20;
    const BURST = 40;

    const box = sandbox();
    /** Every connector known to exist, with what it holds: acknowledged, or read after a restart. */
    const known = new Map<string, Content>();
    const rounds: { acked: number; inFlightAtKill: number }[] = [];
    const tally = {
      creates: 0,
      keyedCreates: 0,
      updates: 0,
      deletes: 0,
      unackedCommitted: 0,
      unackedLost: 0,
    };

    let server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    for (let round = 0; round < ROUNDS; round++) {
      // Each known connector gets at most one update or delete per burst, so that the writes to one
      // connector are ordered: a round ends (the process dies) before the next begins.
      const candidates = [...known.keys()].sort(() => random() - 0.5);
      const writes: BurstWrite[] = Array.from({ length: BURST }, (_, i) => {
        const marker = `r${round}w${i}`;
        const roll = random();
        const id = roll < 0.45 ? candidates.pop() : undefined;
        if (id !== undefined && roll < 0.3) {
          const current = known.get(id) as Content;
          return { kind: 'update', id, content: content(current.type, `updated ${marker}`, marker) };
        }
        if (id !== undefined) return { kind: 'delete', id };
        return {
          kind: 'create',
          content: content(pick(types), `created ${marker}`, marker),
          idempotencyKey: random() < 0.5 ? `faults-${seed}-${marker}` : undefined,
        };
      });

      let settled = 0;
      // Kill once a random number of the 40 have been answered, with the rest in flight: at the
      // moment that answer arrives, not at the next poll (the server answers a group of writes
      // committed together at once, and a poll could come only after the burst's last group).
      let answeredBeforeKill = BURST;
      let inFlightAtKill = -1;
      const running = server;
      const kill = () => {
        if (inFlightAtKill >= 0) return;
        inFlightAtKill = BURST - settled;
        running.child.kill('SIGKILL');
      };
      const onSettled = () => {
        settled++;
        if (settled >= answeredBeforeKill) kill();
      };
      const requests = writes.map((write) => {
        const response =
          write.kind === 'create'
            ? burstRequest(
                server.url,
                'POST',
                '/api/connectors',
                write.content,
                write.idempotencyKey ? { 'idempotency-key': write.idempotencyKey } : {},
              )
            : burstRequest(
                server.url,
                write.kind === 'update' ? 'PUT' : 'DELETE',
                `/api/connectors/${write.id}`,
                write.kind === 'update' ? write.content : undefined,
                {},
              );
        response.then(onSettled, onSettled);
        return response;
      });

      answeredBeforeKill = Math.floor(random() * (BURST - 5));
      if (settled >= answeredBeforeKill) kill();
      await waitFor('answers before the kill', () => (inFlightAtKill >= 0 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 1,
      });
      expect((await server.waitForExit(5_000)).signal).toBe('SIGKILL');

      /** This round's changes to known connectors: the new content, or null for a delete. */
      const changes = new Map<string, { to: Content | null; acked: boolean }>();
      /** Creates not acknowledged: they may or may not have committed. By name. */
      const unacked = new Map<string, { content: Content; idempotencyKey: string | undefined }>();
      const ackedKeyed: { id: string; content: Content; idempotencyKey: string }[] = [];
      const outcomes = await Promise.allSettled(requests);
      let acked = 0;
      outcomes.forEach((outcome, i) => {
        const write = writes[i] as BurstWrite;
        const response = outcome.status === 'fulfilled' ? outcome.value : undefined;
        // An answer that arrived is 201 for a create, 200 for an update, 204 for a delete (nothing
        // else can make these writes fail).
        if (response) {
          expect(response.status, `${context} ${write.kind} ${response.body}`).toBe(
            { create: 201, update: 200, delete: 204 }[write.kind],
          );
        }
        if (write.kind === 'delete') {
          changes.set(write.id, { to: null, acked: response !== undefined });
          if (response) tally.deletes++;
          acked += response ? 1 : 0;
          return;
        }
        const stored = response ? (JSON.parse(response.body) as Connector) : undefined;
        if (stored) {
          acked++;
          expect(same(stored, write.content), context).toBe(true);
        }
        if (write.kind === 'update') {
          changes.set(write.id, { to: write.content, acked: stored !== undefined });
          if (stored) tally.updates++;
        } else if (stored) {
          known.set(stored.id, write.content);
          tally.creates++;
          if (write.idempotencyKey) {
            tally.keyedCreates++;
            ackedKeyed.push({ id: stored.id, content: write.content, idempotencyKey: write.idempotencyKey });
          }
        } else {
          unacked.set(write.content.name, { content: write.content, idempotencyKey: write.idempotencyKey });
        }
      });
      rounds.push({ acked, inFlightAtKill });

      // The file as the kill left it, before anything replays or checkpoints its WAL.
      integrityCheckAsKilled(box);

      // Restart, and check every write against what was acknowledged.
      server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
      const listed = await listAll(server);
      const unclaimed = new Map(listed.map((connector) => [connector.id, connector]));
      expect(unclaimed.size, `${context}: a connector is listed twice`).toBe(listed.length);
      for (const [id, before] of known) {
        const change = changes.get(id);
        // The acknowledged write; or, unacknowledged, the version before it or the write (it may have committed).
        const allowed = change === undefined ? [before] : change.acked ? [change.to] : [before, change.to];
        const found = unclaimed.get(id) ?? null;
        unclaimed.delete(id);
        expect(
          allowed.some((candidate) =>
            candidate === null ? found === null : found !== null && same(found, candidate),
          ),
          `${context} round ${round}: ${id} reads ${JSON.stringify(found)}, expected one of ${JSON.stringify(allowed)}`,
        ).toBe(true);
        if (found) known.set(id, found);
        else known.delete(id); // a deleted connector stays deleted: known no more
      }
      // Whatever else is listed is an unacknowledged create that committed: exactly what was sent.
      const committed = new Map<string, string>();
      for (const connector of unclaimed.values()) {
        const sent = unacked.get(connector.name);
        expect(sent, `${context}: unexpected connector ${JSON.stringify(connector)}`).toBeDefined();
        if (sent) expect(same(connector, sent.content), context).toBe(true);
        committed.set(connector.name, connector.id);
        known.set(connector.id, connector);
      }
      tally.unackedCommitted += committed.size;
      tally.unackedLost += unacked.size - committed.size;

      // A client retries a keyed create with the same key and body: the committed create is
      // replayed; one that did not commit is made now (no claim outlives the killed request: it
      // used to block the retry with 409 for a minute).
      for (const { content: sent, idempotencyKey } of unacked.values()) {
        if (!idempotencyKey) continue;
        const retry = await call(server, 'POST', '/api/connectors', {
          key: API_KEY,
          body: sent,
          headers: { 'idempotency-key': idempotencyKey },
        });
        const id = committed.get(sent.name);
        if (id !== undefined) {
          expect(retry.status, `${context} ${retry.text}`).toBe(201);
          expect(retry.headers.get('idempotent-replayed')).toBe('true');
          expect((JSON.parse(retry.text) as Connector).id).toBe(id);
        } else {
          expect(retry.status, `${context} ${retry.text}`).toBe(201);
          expect(retry.headers.get('idempotent-replayed')).toBeNull();
          const created = JSON.parse(retry.text) as Connector;
          expect(same(created, sent), context).toBe(true);
          known.set(created.id, sent);
        }
      }
      // An acknowledged keyed create is replayed after the kill too.
      for (const { id, content: sent, idempotencyKey } of ackedKeyed.slice(0, 3)) {
        const retry = await call(server, 'POST', '/api/connectors', {
          key: API_KEY,
          body: sent,
          headers: { 'idempotency-key': idempotencyKey },
        });
        expect(retry.status, `${context} ${retry.text}`).toBe(201);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
        expect((JSON.parse(retry.text) as Connector).id).toBe(id);
      }
    }

    // The kills really landed mid-burst (writes unanswered at every kill, and writes the server
    // never got to commit), and every kind of write was acknowledged.
    const summary = `${context} ${JSON.stringify({ rounds, tally })}`;
    expect(rounds.filter((r) => r.inFlightAtKill > 0).length, summary).toBe(ROUNDS);
    expect(tally.unackedLost, summary).toBeGreaterThan(0);
    expect(
      rounds.reduce((sum, r) => sum + r.acked, 0),
      summary,
    ).toBeGreaterThan(ROUNDS * 5);
    for (const kind of ['creates', 'keyedCreates', 'updates', 'deletes'] as const) {
      expect(tally[kind], summary).toBeGreaterThan(0);
    }

    // Every connector reads back one by one (its secrets open), as the listing showed it.
    const listed = await listAll(server);
    expect(listed.map((c) => c.id).sort()).toEqual([...known.keys()].sort());
    for (const connector of listed) {
      const one = await call(server, 'GET', `/api/connectors/${connector.id}`, { key: API_KEY });
      expect(one.status, one.text).toBe(200);
      expect(JSON.parse(one.text)).toEqual(connector);
    }
    server.signal('SIGTERM');
    expect((await server.waitForExit(10_000)).code).toBe(0);
    integrityCheck(box.dbPath);
  }, 120_000);
});

describe('database faults', () => {
  it('serves reads while another process holds the write lock; writes wait for it without blocking, then 503 or succeed', async () => {
    const box = sandbox();
    const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const seeded: Connector[] = [];
    for (const [i, type] of ['jira', 'dingtalk', 'slack'].entries()) {
      const response = await call(server, 'POST', '/api/connectors', {
        key: API_KEY,
        body: content(type, `before ${i}`, `b${i}`),
      });
      expect(response.status, response.text).toBe(201);
      seeded.push(JSON.parse(response.text) as Connector);
    }
    const [one, two] = seeded as [Connector, Connector, Connector];
    const pid = server.child.pid;

    // Another process (a backup, a stuck `sqlite3` shell) holds the write lock for 8 s: longer than
    // a write waits for it (5 s), shorter than the second wave of writes below waits.
    const HOLD_MS = 8_000;
    const holder = new SqliteDatabase(box.dbPath);
    holder.exec('begin immediate');
    const heldAt = Date.now();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      holder.exec('rollback');
      holder.close();
    };
    const releaseTimer = setTimeout(release, HOLD_MS);
    const timed = (method: string, path: string, options: Parameters<typeof call>[3] = {}) => {
      const sent = Date.now();
      const answer = call(server, method, path, options).then((response) => ({
        ...response,
        ms: Date.now() - sent,
        at: Date.now() - heldAt,
      }));
      answer.catch(() => {}); // awaited below; a test that fails first leaves it unawaited
      return answer;
    };
    // A listing, one by id, one by name: WAL reads need no lock.
    const reads = () =>
      Promise.all([
        timed('GET', '/api/connectors', { key: API_KEY }),
        timed('GET', `/api/connectors/${one.id}`, { key: API_KEY }),
        timed('GET', `/api/connectors/name/${encodeURIComponent(two.name)}`, { key: API_KEY }),
      ]);
    const expectReadsServed = (answers: Awaited<ReturnType<typeof reads>>, when: string) => {
      for (const answer of answers) {
        expect(answer.status, `${when}: ${answer.text}`).toBe(200);
        expect(answer.ms, `${when}: a read waited for the write lock`).toBeLessThan(1_000);
      }
      expect((JSON.parse(answers[0].text) as Connector[]).map((c) => c.name)).toEqual(
        seeded.map((c) => c.name),
      );
      expect(JSON.parse(answers[1].text)).toEqual(one);
      expect(JSON.parse(answers[2].text)).toEqual(two);
    };

    try {
      // All at once: 8 creates (two with an Idempotency-Key), /healthz and 3 reads.
      const firstWave = Array.from({ length: 8 }, (_, i) => ({
        body: content(types[i % types.length] as string, `during ${i}`, `d${i}`),
        idempotencyKey: i < 2 ? `lock-wait-${i}` : undefined,
      }));
      const writes = firstWave.map((write) =>
        timed('POST', '/api/connectors', {
          key: API_KEY,
          body: write.body,
          headers: write.idempotencyKey ? { 'idempotency-key': write.idempotencyKey } : {},
        }),
      );
      const health = timed('GET', '/healthz');
      expectReadsServed(await reads(), 'reads sent with the writes');
      // While those writes wait for the lock, reads still go on at once.
      await sleep(2_000 - (Date.now() - heldAt));
      expectReadsServed(await reads(), 'reads while writes wait');

      // The writes give up after about 5 s: 503 with Retry-After (never a 408 or a 500).
      const healthAnswer = await health;
      expectUnavailable(healthAnswer);
      expect(healthAnswer.ms).toBeGreaterThan(4_000);
      expect(healthAnswer.ms).toBeLessThan(7_000);
      for (const answer of await Promise.all(writes)) {
        expectUnavailable(answer);
        expect(answer.ms).toBeGreaterThan(4_000);
        expect(answer.ms).toBeLessThan(7_000);
      }

      // A second wave, ~2.5 s before the lock is let go: these wait and then succeed.
      const secondWave = Array.from({ length: 3 }, (_, i) => ({
        body: content(types[i % types.length] as string, `waited ${i}`, `w${i}`),
        idempotencyKey: i === 0 ? 'lock-wait-second' : undefined,
      }));
      const waited = secondWave.map((write) =>
        timed('POST', '/api/connectors', {
          key: API_KEY,
          body: write.body,
          headers: write.idempotencyKey ? { 'idempotency-key': write.idempotencyKey } : {},
        }),
      );
      expectReadsServed(await reads(), 'reads while the second wave waits');
      for (const [i, answer] of (await Promise.all(waited)).entries()) {
        expect(answer.status, answer.text).toBe(201);
        expect(answer.at).toBeGreaterThanOrEqual(HOLD_MS);
        expect(same(JSON.parse(answer.text) as Connector, secondWave[i]?.body as Content)).toBe(true);
      }
      expect(held).toBe(false);
    } finally {
      clearTimeout(releaseTimer);
      release();
    }

    // The same process, no restart.
    expect(server.running).toBe(true);
    expect(server.child.pid).toBe(pid);
    const health = await call(server, 'GET', '/healthz');
    expect(health.status, health.text).toBe(200);
    // The refused keyed creates committed nothing, their keys included: a retry creates.
    for (const i of [0, 1]) {
      const retry = await call(server, 'POST', '/api/connectors', {
        key: API_KEY,
        body: content(types[i] as string, `during ${i}`, `d${i}`),
        headers: { 'idempotency-key': `lock-wait-${i}` },
      });
      expect(retry.status, retry.text).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBeNull();
    }
    const after = await call(server, 'POST', '/api/connectors', {
      key: API_KEY,
      body: content('jira', 'after', 'a'),
    });
    expect(after.status, after.text).toBe(201);
    // Every acknowledged create is stored, and nothing that was refused.
    const names = (await listAll(server)).map((c) => c.name);
    expect(names.slice(0, 3)).toEqual(seeded.map((c) => c.name));
    expect(names.slice(3, 6).sort()).toEqual(['waited 0', 'waited 1', 'waited 2']); // in any order
    expect(names.slice(6)).toEqual(['during 0', 'during 1', 'after']);
    const errors = server.logLines().filter((line) => Number(line.level) >= 50);
    expect(errors.length).toBeGreaterThan(0); // the 503s are logged, with the driver's error
    for (const line of server.rawLogLines()) expect(line).not.toContain('"status":500');

    server.signal('SIGTERM');
    expect((await server.waitForExit(10_000)).code).toBe(0);
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
      expect(first.status, first.text).toBe(201);

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
        if (response.status === 201) during.push(`during ${i}`);
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
      expect(after.status, after.text).toBe(201);
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
