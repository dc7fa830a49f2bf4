/**
 * Secrets at rest with real processes: the key file made on first start, refusing to start with
 * the wrong master key, `plugboard secrets rotate` while a server serves, key expiry, and
 * `plugboard audit`. Needs `npm run build` first.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import { parseMasterKey } from '../src/secrets/cipher.js';
import { createKeyStore } from '../src/store/key-store.js';
import { buildTestApp, type ErrorResponse, json, typeOf, validParams } from './helpers.js';
import {
  type EnvOverrides,
  type PlugboardProcess,
  parseColumns,
  type Sandbox,
  type ServerProcess,
  sandboxPerTest,
  sleep,
  waitFor,
} from './process-helpers.js';

const sandbox = sandboxPerTest();

const BOOTSTRAP = 'secrets-process-bootstrap-key-0123456789';

/** The bootstrap key and `extra` (the sandbox drops the parent's Plugboard settings). */
function env(extra: EnvOverrides = {}): EnvOverrides {
  return { PLUGBOARD_API_KEY: BOOTSTRAP, ...extra };
}

function keyFileOf(box: Sandbox): string {
  return `${box.dbPath}.key`;
}

/** The base64 keys of a key file. */
function fileKeys(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function idOf(encoded: string): string {
  return parseMasterKey(encoded, 'test').id;
}

/** A key in every spelling it could leak in. */
function spellings(encoded: string): string[] {
  const material = Buffer.from(encoded, 'base64');
  return [
    material.toString('base64'),
    material.toString('base64').replace(/=+$/, ''),
    material.toString('base64url'),
    material.toString('hex'),
  ];
}

function expectNoKeyMaterial(output: string, keys: readonly string[], what: string): void {
  for (const key of keys) {
    for (const spelling of spellings(key))
      expect(output, `${what} holds key material`).not.toContain(spelling);
  }
}

function outputOf(started: PlugboardProcess): string {
  return `${started.stdout}\n${started.stderr}`;
}

const typeIds = ['github', 'jira', 'discord', 'dingtalk', 'zendesk'];

function body(i: number, marker = `m${i}`) {
  const type = typeOf(typeIds[i % typeIds.length] ?? 'github');
  return { name: `connector ${i}`, type: type.id, params: validParams(type, marker) };
}

async function createConnector(server: ServerProcess, payload: ReturnType<typeof body>): Promise<Connector> {
  const response = await server.request('POST', '/api/connectors', { key: BOOTSTRAP, body: payload });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Connector;
}

async function readParams(server: ServerProcess, id: string): Promise<Record<string, string>> {
  const response = await server.request('GET', `/api/connectors/${id}`, { key: BOOTSTRAP });
  expect(response.status, `GET ${id}`).toBe(200);
  return ((await response.json()) as Connector).params;
}

/** SIGTERM and wait for a clean exit. */
async function stop(server: ServerProcess): Promise<void> {
  server.signal('SIGTERM');
  const exit = await server.waitForExit(10_000);
  expect(exit.code).toBe(0);
}

const listeningOrReady = /Server listening at|Plugboard is ready/;

/** `serve` that must fail before listening: fast, non-zero, and never listening. */
async function expectRefusedStart(box: Sandbox, overrides: EnvOverrides): Promise<string> {
  const started = Date.now();
  const server = box.spawn(['serve'], env(overrides));
  const exit = await server.waitForExit(8_000);
  expect(exit.code, outputOf(server)).not.toBe(0);
  expect(exit.code).not.toBeNull();
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(outputOf(server)).not.toMatch(listeningOrReady);
  return server.stderr;
}

describe('the key file beside the database', () => {
  it('is made on first start with mode 0600, its path logged but never the key; restarts use it', async () => {
    const box = sandbox();
    const first = await box.startServer(env());
    const keyFile = keyFileOf(box);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const keys = fileKeys(keyFile);
    expect(keys).toHaveLength(1);
    expect(Buffer.from(keys[0] ?? '', 'base64')).toHaveLength(32);

    const createdLine = first.logLines().find((line) => line.keyFile === keyFile);
    expect(createdLine?.msg).toMatch(/master key file/);
    expect(createdLine?.msg).toMatch(/0600/);
    // Logged just after "Server listening at", which is all startServer waits for.
    const ready = await waitFor('the ready line', () =>
      first.logLines().find((line) => line.msg === 'Plugboard is ready'),
    );
    expect(ready?.secrets).toBe(`key file ${keyFile}`);

    const payload = body(0);
    const created = await createConnector(first, payload);
    await stop(first);
    expectNoKeyMaterial(outputOf(first), keys, 'the first start');

    const second = await box.startServer(env());
    expect(await readParams(second, created.id)).toEqual(payload.params);
    expect(second.logLines().some((line) => line.keyFile !== undefined)).toBe(false);
    expect(fileKeys(keyFile)).toEqual(keys);
    await stop(second);
    expectNoKeyMaterial(outputOf(second), keys, 'the restart');
  });
});

describe('starting with the wrong master key', () => {
  it('fails at once with a message naming the key source, never the key, and never listens', async () => {
    const box = sandbox();
    const server = await box.startServer(env());
    const payload = body(1);
    const created = await createConnector(server, payload);
    await stop(server);
    const keyFile = keyFileOf(box);
    const [fileKey = ''] = fileKeys(keyFile);
    const storedId = idOf(fileKey);

    const otherKey = randomBytes(32).toString('base64');
    const thirdKey = randomBytes(32).toString('base64');
    const malformed = 'hunter2-is-not-a-master-key-hunter2';
    const all = [fileKey, otherKey, thirdKey];

    // The environment cases leave the key file alone: run them side by side.
    const [wrongEnv, wrongBoth, malformedEnv, malformedPrevious, previousAlone] = await Promise.all([
      expectRefusedStart(box, { PLUGBOARD_MASTER_KEY: otherKey }),
      expectRefusedStart(box, { PLUGBOARD_MASTER_KEY: otherKey, PLUGBOARD_PREVIOUS_MASTER_KEYS: thirdKey }),
      expectRefusedStart(box, { PLUGBOARD_MASTER_KEY: malformed }),
      expectRefusedStart(box, {
        PLUGBOARD_MASTER_KEY: otherKey,
        PLUGBOARD_PREVIOUS_MASTER_KEYS: malformed,
      }),
      expectRefusedStart(box, { PLUGBOARD_PREVIOUS_MASTER_KEYS: fileKey }),
    ]);
    for (const stderr of [wrongEnv, wrongBoth]) {
      expect(stderr).toMatch(/PLUGBOARD_MASTER_KEY/);
      expect(stderr).toContain(storedId);
      expectNoKeyMaterial(stderr, all, 'the wrong-key message');
    }
    expect(malformedEnv).toMatch(/PLUGBOARD_MASTER_KEY must be 32 random bytes in base64/);
    expect(malformedEnv).not.toContain('hunter2');
    expect(malformedEnv.split('\n').filter((line) => line.startsWith('plugboard:'))).toHaveLength(1);
    expect(malformedPrevious).toMatch(/PLUGBOARD_PREVIOUS_MASTER_KEYS/);
    expect(malformedPrevious).not.toContain('hunter2');
    expect(previousAlone).toMatch(/PLUGBOARD_PREVIOUS_MASTER_KEYS.*PLUGBOARD_MASTER_KEY/);
    expectNoKeyMaterial(previousAlone, all, 'the previous-alone message');
    expect(fileKeys(keyFile)).toEqual([fileKey]);

    // The file's key given as PLUGBOARD_MASTER_KEY works, and so does a new key with it as previous.
    const [asEnv, asPrevious] = await Promise.all([
      box.startServer(env({ PLUGBOARD_MASTER_KEY: fileKey })),
      box.startServer(env({ PLUGBOARD_MASTER_KEY: otherKey, PLUGBOARD_PREVIOUS_MASTER_KEYS: fileKey })),
    ]);
    for (const running of [asEnv, asPrevious]) {
      expect(await readParams(running, created.id)).toEqual(payload.params);
      expect(running.logLines().find((line) => line.msg === 'Plugboard is ready')?.secrets).toBe(
        'PLUGBOARD_MASTER_KEY',
      );
    }
    await Promise.all([stop(asEnv), stop(asPrevious)]);

    // Another key in the key file.
    writeFileSync(keyFile, `${otherKey}\n`, { mode: 0o600 });
    const replaced = await expectRefusedStart(box, {});
    expect(replaced).toContain(keyFile);
    expect(replaced).toMatch(/master key/);
    expect(replaced).toContain(storedId);
    expectNoKeyMaterial(replaced, all, 'the replaced-key-file message');

    // The key file lost: no new key file is made for a database that holds sealed secrets.
    rmSync(keyFile);
    const lost = await expectRefusedStart(box, {});
    expect(lost).toContain(keyFile);
    expect(lost).toMatch(/restore/);
    expect(existsSync(keyFile)).toBe(false);
    expectNoKeyMaterial(lost, all, 'the lost-key-file message');

    // The right file back: starts, and the secret is intact.
    writeFileSync(keyFile, `${fileKey}\n`, { mode: 0o600 });
    const restored = await box.startServer(env());
    expect(await readParams(restored, created.id)).toEqual(payload.params);
    await stop(restored);
  });
});

describe('plugboard secrets rotate while a server serves', () => {
  it('re-seals everything under a new key while reads and updates go on, then restarts cleanly', async () => {
    const box = sandbox();
    const server = await box.startServer(env());
    const keyFile = keyFileOf(box);
    const [oldKey = ''] = fileKeys(keyFile);

    const expected = new Map<string, Record<string, string>>();
    const ids: string[] = [];
    for (let start = 0; start < 50; start += 10) {
      const batch = await Promise.all(
        Array.from({ length: 10 }, (_, j) => {
          const payload = body(start + j);
          return createConnector(server, payload).then((c) => ({ c, payload }));
        }),
      );
      for (const { c, payload } of batch) {
        ids.push(c.id);
        expected.set(c.id, payload.params);
      }
    }
    const updated = ids.slice(0, 5);
    const readOnly = ids.slice(5);

    const failures: string[] = [];
    let stopping = false;
    let rotateRunning = false;
    let readsDuringRotation = 0;
    const reader = async (offset: number) => {
      for (let i = offset; !stopping; i++) {
        const id = readOnly[i % readOnly.length] ?? '';
        try {
          const response = await server.request('GET', `/api/connectors/${id}`, { key: BOOTSTRAP });
          const text = await response.text();
          if (response.status !== 200) failures.push(`GET ${id}: ${response.status} ${text}`);
          else if (
            JSON.stringify((JSON.parse(text) as Connector).params) !== JSON.stringify(expected.get(id))
          )
            failures.push(`GET ${id}: params changed`);
          else if (rotateRunning) readsDuringRotation++;
        } catch (error) {
          failures.push(`GET ${id}: ${String(error)}`);
        }
      }
    };
    let round = 0;
    const updater = async () => {
      while (!stopping) {
        round++;
        for (const [j, id] of updated.entries()) {
          const payload = body(j, `u${round}`);
          const response = await server.request('PUT', `/api/connectors/${id}`, {
            key: BOOTSTRAP,
            body: payload,
          });
          if (response.status !== 200)
            failures.push(`PUT ${id}: ${response.status} ${await response.text()}`);
          else expected.set(id, payload.params);
        }
        await sleep(50);
      }
    };

    const readers = [0, 15, 30].map(reader);
    const updating = updater();
    rotateRunning = true;
    const rotate = box.spawn(['secrets', 'rotate'], env());
    const rotateExit = await rotate.waitForExit(20_000);
    rotateRunning = false;
    const rotatedAt = Date.now();
    stopping = true;
    await Promise.all([...readers, updating]);

    expect(rotateExit.code, outputOf(rotate)).toBe(0);
    expect(failures).toEqual([]);
    expect(readsDuringRotation).toBeGreaterThan(0);
    expect(round).toBeGreaterThan(0);

    // The old key is retired from the file once nothing is sealed with it.
    const keys = fileKeys(keyFile);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(oldKey);
    const newId = idOf(keys[0] ?? '');
    expect(rotate.stdout).toContain(`Made master key ${newId} the primary key in key file ${keyFile}`);
    expect(rotate.stdout).toContain(
      `verified that all 50 connector(s) with secrets and all 0 idempotency record(s) open under key ${newId}`,
    );
    expect(rotate.stdout).toContain(
      `Removed the retired master key(s) ${idOf(oldKey)} from key file ${keyFile}`,
    );
    expect(rotate.stderr).toMatch(/re-sealed \d+ of \d+ connectors/);
    expectNoKeyMaterial(outputOf(rotate), [...keys, oldKey], 'rotate');

    // Everything reads back, during and after.
    for (const id of ids) expect(await readParams(server, id), id).toEqual(expected.get(id));

    // The server picks the new key up by itself within ~2 s: its writes are then sealed with it.
    const sqlite = new SqliteDatabase(box.dbPath, { fileMustExist: true });
    try {
      const keyIdOf = (id: string) =>
        (
          sqlite.prepare('select secret_key_id from connectors where id = ?').get(id) as {
            secret_key_id: string;
          }
        ).secret_key_id;
      // Rows only rotate wrote are all under the new key.
      for (const id of readOnly) expect(keyIdOf(id)).toBe(newId);
      const target = updated[0] ?? '';
      await waitFor(
        'the server to seal a write with the new key',
        async () => {
          const payload = body(0, `after${Date.now()}`);
          const response = await server.request('PUT', `/api/connectors/${target}`, {
            key: BOOTSTRAP,
            body: payload,
          });
          expect(response.status).toBe(200);
          expected.set(target, payload.params);
          return keyIdOf(target) === newId ? true : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 100 },
      );
      expect(Date.now() - rotatedAt).toBeLessThan(4_000);
    } finally {
      sqlite.close();
    }

    await stop(server);
    expectNoKeyMaterial(outputOf(server), [...keys, oldKey], 'the server');

    // A restart opens everything, with no new key file.
    const restarted = await box.startServer(env());
    for (const id of ids) expect(await readParams(restarted, id), id).toEqual(expected.get(id));
    expect(fileKeys(keyFile)).toEqual(keys);
    await stop(restarted);
  });
});

describe('key expiry', () => {
  it('keys create --expires prints the expiry, and keys list shows it', async () => {
    const box = sandbox();
    expect((await box.run(['migrate'])).code).toBe(0);
    const before = Date.now();
    const [minute, days, date] = await Promise.all([
      box.run(['keys', 'create', '--account', 'acme', '--role', 'read', '--expires', '1m', '--new-account']),
      box.run([
        'keys',
        'create',
        '--account',
        'acme',
        '--role',
        'write',
        '--expires',
        '90d',
        '--new-account',
      ]),
      box.run([
        'keys',
        'create',
        '--account',
        'acme',
        '--role',
        'read',
        '--expires',
        '2099-01-31',
        '--new-account',
      ]),
    ]);
    const after = Date.now();
    const expiryOf = (result: { code: number | null; stdout: string; stderr: string }) => {
      expect(result.code, result.stderr).toBe(0);
      const at = /It expires at (\S+)\./.exec(result.stdout)?.[1] ?? '';
      expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(/^pb_/);
      return at;
    };
    const inAMinute = Date.parse(expiryOf(minute));
    expect(inAMinute).toBeGreaterThanOrEqual(before + 60_000);
    expect(inAMinute).toBeLessThanOrEqual(after + 60_000);
    const in90Days = Date.parse(expiryOf(days));
    expect(in90Days).toBeGreaterThanOrEqual(before + 90 * 86_400_000);
    expect(in90Days).toBeLessThanOrEqual(after + 90 * 86_400_000);
    expect(expiryOf(date)).toBe('2099-01-31T00:00:00.000Z');

    const list = await box.run(['keys', 'list']);
    expect(list.stdout).toContain('EXPIRES');
    expect(list.stdout).toContain(new Date(inAMinute).toISOString());
    expect(list.stdout).toContain('2099-01-31T00:00:00.000Z');
  });

  it('refuses an expiry that is not in the future, or not a duration or date, with exit 2', async () => {
    const box = sandbox();
    expect((await box.run(['migrate'])).code).toBe(0);
    const bad = ['0d', 'yesterday', '2001-01-01', '-1d', '1y'];
    const results = await Promise.all(
      bad.map((value) =>
        box.run(['keys', 'create', '--account', 'acme', '--role', 'read', '--expires', value]),
      ),
    );
    results.forEach((result, i) => {
      expect(result.code, `--expires ${JSON.stringify(bad[i])}`).toBe(2);
      expect(result.stderr).toMatch(/--expires/);
      expect(result.stdout).not.toMatch(/pb_/);
    });
    expect((await box.run(['keys', 'list'])).stdout.trim()).toBe('no keys');
  });

  it('an expired key gets 401 saying it expired (in-process)', async () => {
    const t = await buildTestApp();
    try {
      const keys = createKeyStore(t.database.db, t.hashing);
      const past = new Date(Date.now() - 60_000).toISOString();
      const expired = await keys.create('acme', 'write', 'expired', past);
      const soonAt = Date.now() + 1_000;
      const soon = await keys.create('acme', 'write', 'soon', new Date(soonAt).toISOString());
      const later = await keys.create(
        'acme',
        'read',
        'later',
        new Date(Date.now() + 86_400_000).toISOString(),
      );

      const refused = await t.call('GET', '/api/connectors', { key: expired.secret });
      expect(refused.statusCode).toBe(401);
      expect(json<ErrorResponse>(refused).message).toMatch(/expired/);
      expect(json<ErrorResponse>(refused).message).toContain(past);
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(refused.body).not.toContain(expired.secret);
      // Writes too.
      const write = await t.call('POST', '/api/connectors', {
        key: expired.secret,
        body: { name: 'x', type: 'slack', params: {} },
      });
      expect(write.statusCode).toBe(401);

      expect((await t.call('GET', '/api/connectors', { key: later.secret })).statusCode).toBe(200);
      // A key that works now stops when it expires, even though its lookup is cached.
      expect((await t.call('GET', '/api/connectors', { key: soon.secret })).statusCode).toBe(200);
      await sleep(soonAt - Date.now() + 50);
      const lapsed = await t.call('GET', '/api/connectors', { key: soon.secret });
      expect(lapsed.statusCode).toBe(401);
      expect(json<ErrorResponse>(lapsed).message).toMatch(/expired/);
    } finally {
      await t.close();
    }
  });
});

interface AuditRow {
  at: string;
  account: string;
  action: string;
  connector: string;
  name: string;
  type: string;
  key: string;
  label: string;
  fields: string;
}

/** `plugboard audit` output parsed by its header's column positions. */
function parseAudit(stdout: string): AuditRow[] {
  if (stdout.trim() === 'no audit events') return [];
  const titles = ['AT', 'ACCOUNT', 'ACTION', 'CONNECTOR', 'NAME', 'TYPE', 'KEY', 'LABEL', 'FIELDS'];
  return parseColumns(stdout, titles).map((cells) => {
    const [
      at = '',
      account = '',
      action = '',
      connector = '',
      name = '',
      type = '',
      key = '',
      label = '',
      fields = '',
    ] = cells;
    return { at, account, action, connector, name, type, key, label, fields };
  });
}

describe('plugboard audit', () => {
  it('prints the trail newest first with key and field names, never a secret; --account and --limit', async () => {
    const box = sandbox();
    expect((await box.run(['migrate'])).code).toBe(0);
    const makeKey = async (account: string, label: string) => {
      const result = await box.run([
        'keys',
        'create',
        '--account',
        account,
        '--role',
        'write',
        '--label',
        label,
        '--new-account',
      ]);
      expect(result.code, result.stderr).toBe(0);
      return {
        id: /\b(key_[A-Za-z0-9_-]+) in account/.exec(result.stdout)?.[1] ?? '',
        key: result.stdout.trimEnd().split('\n').at(-1) ?? '',
      };
    };
    const acme = await makeKey('acme', 'acme-bot');
    const globex = await makeKey('globex', 'globex-bot');
    const server = await box.startServer(env({ PLUGBOARD_API_KEY: undefined }));

    const jira = (password: string, name: string) => ({
      name,
      type: 'jira',
      params: { url: 'https://j.example.com', email: 'e@example.com', password },
    });
    const created = await server.request('POST', '/api/connectors', {
      key: acme.key,
      body: jira('AUDITSECRET-one', 'Jira'),
    });
    expect(created.status).toBe(201);
    const jiraId = ((await created.json()) as Connector).id;
    const other = await server.request('POST', '/api/connectors', {
      key: globex.key,
      body: { name: 'gh', type: 'github', params: { apiKey: 'AUDITSECRET-two' } },
    });
    expect(other.status).toBe(201);
    const githubId = ((await other.json()) as Connector).id;
    const put = await server.request('PUT', `/api/connectors/${jiraId}`, {
      key: acme.key,
      body: jira('AUDITSECRET-three', 'Jira renamed'),
    });
    expect(put.status).toBe(200);
    expect((await server.request('DELETE', `/api/connectors/${jiraId}`, { key: acme.key })).status).toBe(204);

    const [all, acmeOnly, one, nobody, zero, junk] = await Promise.all([
      box.run(['audit']),
      box.run(['audit', '--account', 'acme']),
      box.run(['audit', '--limit', '1']),
      box.run(['audit', '--account', 'nobody']),
      box.run(['audit', '--limit', '0']),
      box.run(['audit', '--limit', 'ten']),
    ]);
    for (const result of [all, acmeOnly, one]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).not.toContain('AUDITSECRET');
      expect(result.stdout).not.toContain('pb_');
    }
    // An account that does not exist is said to be so, not listed as "no audit events".
    expect(nobody.code).toBe(1);
    expect(nobody.stdout).toBe('');
    expect(nobody.stderr).toContain('no account named "nobody"');
    expect(zero.code).toBe(2);
    expect(junk.code).toBe(2);
    expect(zero.stderr).toMatch(/--limit/);

    const rows = parseAudit(all.stdout);
    expect(
      rows.map((r) => [r.action, r.account, r.connector, r.name, r.type, r.key, r.label, r.fields]),
    ).toEqual([
      ['delete', 'acme', jiraId, 'Jira renamed', 'jira', acme.id, 'acme-bot', '-'],
      ['update', 'acme', jiraId, 'Jira renamed', 'jira', acme.id, 'acme-bot', 'name,params.password'],
      ['create', 'globex', githubId, 'gh', 'github', globex.id, 'globex-bot', 'type,name,params.apiKey'],
      [
        'create',
        'acme',
        jiraId,
        'Jira',
        'jira',
        acme.id,
        'acme-bot',
        'type,name,params.email,params.password,params.url',
      ],
    ]);
    const times = rows.map((r) => Date.parse(r.at));
    for (const time of times) expect(time).not.toBeNaN();
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    expect(parseAudit(acmeOnly.stdout).map((r) => r.action)).toEqual(['delete', 'update', 'create']);
    expect(parseAudit(acmeOnly.stdout).every((r) => r.account === 'acme')).toBe(true);
    expect(parseAudit(one.stdout).map((r) => [r.action, r.connector])).toEqual([['delete', jiraId]]);
    // An account that exists but has no changes: an empty trail, not an error.
    await makeKey('quiet', 'quiet-bot');
    const quiet = await box.run(['audit', '--account', 'quiet']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout.trim()).toBe('no audit events');

    await stop(server);
    expect(outputOf(server)).not.toContain('AUDITSECRET');
  });
});
