/**
 * The real `plugboard` command: --help, migrate, keys create/list/revoke, usage errors, and keys
 * managed while a server runs on the same database. Needs `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseColumns, type Sandbox, sandboxPerTest, waitFor } from './process-helpers.js';

const sandbox = sandboxPerTest();

interface CreatedKey {
  id: string;
  key: string;
}

/** `keys create`, checked: exit 0 and the key alone on the last line. */
async function createKey(box: Sandbox, account: string, role: string, label?: string): Promise<CreatedKey> {
  const args = ['keys', 'create', '--account', account, '--role', role, '--new-account'];
  if (label !== undefined) args.push('--label', label);
  const result = await box.run(args);
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  const key = lines.at(-1) ?? '';
  expect(key).toMatch(/^pb_[A-Za-z0-9_-]{20,}$/);
  const id = /\b(key_[A-Za-z0-9_-]+) in account/.exec(result.stdout)?.[1];
  expect(id).toBeDefined();
  return { id: id ?? '', key };
}

interface ListedKey {
  id: string;
  label: string;
  account: string;
  role: string;
  created: string;
  lastUsed: string;
  expires: string;
  revoked: string;
}

/** `keys list` parsed by its header's column positions. */
async function listKeys(box: Sandbox, account?: string): Promise<{ rows: ListedKey[]; stdout: string }> {
  const result = await box.run(['keys', 'list', ...(account === undefined ? [] : ['--account', account])]);
  expect(result.code, result.stderr).toBe(0);
  if (result.stdout.trim() === 'no keys') return { rows: [], stdout: result.stdout };
  const titles = ['ID', 'LABEL', 'ACCOUNT', 'ROLE', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'];
  const rows = parseColumns(result.stdout, titles).map((cells) => {
    const [
      id = '',
      label = '',
      acct = '',
      role = '',
      created = '',
      lastUsed = '',
      expires = '',
      revoked = '',
    ] = cells;
    return { id, label, account: acct, role, created, lastUsed, expires, revoked };
  });
  return { rows, stdout: result.stdout };
}

describe('plugboard --help and usage errors', () => {
  it('--help prints the usage and exits 0', async () => {
    const box = sandbox();
    const results = await Promise.all(['--help', '-h'].map((flag) => box.run([flag])));
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: plugboard');
      expect(result.stdout).toMatch(/keys create --account NAME --role read\|write/);
      expect(result.stdout).toContain('migrate');
    }
  });

  it('bad usage exits 2 with one line and where the usage is on stderr', async () => {
    const box = sandbox();
    const cases = [
      ['frobnicate'],
      ['keys'],
      ['keys', 'create', '--account', 'acme'],
      ['keys', 'create', '--account', 'bad name!', '--role', 'read'],
      ['keys', 'create', '--account', 'acme', '--role', 'read', '--bogus'],
      ['keys', 'revoke'],
    ];
    const results = await Promise.all(cases.map((args) => box.run(args)));
    results.forEach((result, i) => {
      const args = JSON.stringify(cases[i]);
      expect(result.code, args).toBe(2);
      expect(result.stderr, args).toMatch(/^plugboard: /);
      expect(result.stderr, args).toMatch(/\n\(usage: plugboard (keys )?--help\)\n$/);
      expect(result.stderr, args).not.toContain('Usage: plugboard');
      expect(result.stdout, args).not.toMatch(/pb_/);
    });
    // None of them made a database, let alone a key.
    expect(existsSync(box.dbPath)).toBe(false);
  });
});

describe('plugboard migrate', () => {
  it('applies the migrations on a fresh database, then says it is up to date', async () => {
    const box = sandbox();
    const first = await box.run(['migrate']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /Applied 9 migration\(s\): 0001-initial, 0002-last-check, 0003-idempotency-keys, 0004-connectors-version, 0005-idempotency-owner, 0006-hash-key, 0007-deliveries, 0008-connector-changes, 0009-connectors-version-shards/,
    );
    const second = await box.run(['migrate']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
  });
});

describe('plugboard keys', () => {
  it('creates, lists and revokes keys, and never shows a key in the list', async () => {
    const box = sandbox();
    expect((await box.run(['migrate'])).code).toBe(0);
    // At once: the three commands must not race.
    const [write, read, other] = await Promise.all([
      createKey(box, 'acme', 'write', 'deploy bot'),
      createKey(box, 'acme', 'read'),
      createKey(box, 'globex', 'read', 'dashboards'),
    ]);
    if (!write || !read || !other) throw new Error('keys create failed');
    expect(new Set([write.key, read.key, other.key]).size).toBe(3);

    const [all, globex, nobody] = await Promise.all([
      listKeys(box),
      listKeys(box, 'globex'),
      listKeys(box, 'nobody'),
    ]);
    for (const created of [write, read, other]) expect(all.stdout).not.toContain(created.key);
    expect(all.stdout).not.toContain('pb_');
    const byId = (a: ListedKey, b: ListedKey) => a.id.localeCompare(b.id);
    expect(all.rows.sort(byId).map((row) => [row.id, row.label, row.account, row.role])).toEqual(
      [
        [write.id, 'deploy bot', 'acme', 'write'],
        [read.id, '', 'acme', 'read'],
        [other.id, 'dashboards', 'globex', 'read'],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    for (const row of all.rows) {
      expect(Number.isNaN(Date.parse(row.created))).toBe(false);
      expect(row.lastUsed).toBe('-');
      expect(row.revoked).toBe('-');
    }
    expect(globex.rows.map((row) => row.id)).toEqual([other.id]);
    expect(nobody.rows).toEqual([]);

    const revoked = await box.run(['keys', 'revoke', read.id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(read.id);
    const [again, afterRevoke] = await Promise.all([
      box.run(['keys', 'revoke', read.id]),
      listKeys(box, 'acme'),
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already revoked/);
    expect(afterRevoke.rows).toHaveLength(2);
    const row = afterRevoke.rows.find((r) => r.id === read.id);
    expect(Number.isNaN(Date.parse(row?.revoked ?? ''))).toBe(false);
    expect(afterRevoke.rows.find((r) => r.id === write.id)?.revoked).toBe('-');
  });

  it('an unknown id, or a bad DATABASE_URL, exits 1 with a message', async () => {
    const box = sandbox();
    expect((await box.run(['migrate'])).code).toBe(0);
    const [unknown, postgres] = await Promise.all([
      box.run(['keys', 'revoke', 'key_doesNotExist']),
      // Port 1 on loopback: nothing listens, the connection is refused at once.
      box.run(['keys', 'list'], { DATABASE_URL: 'postgres://u:hunter2hunter2@127.0.0.1:1/db' }),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no key with id key_doesNotExist/);
    expect(postgres.code).toBe(1);
    expect(postgres.stderr).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:1\/db .*check DATABASE_URL/);
    expect(postgres.stderr).not.toContain('hunter2');
  });
});

describe('plugboard keys while the server runs', () => {
  it('a created key works at once, a revoked one gets 401 within 5 s, and use shows in keys list', async () => {
    const box = sandbox();
    const bootstrap = 'cli-test-bootstrap-key-0123456789';
    expect((await box.run(['migrate'])).code).toBe(0);
    // The server and two commands start together: their start-up checks must not race.
    const [server, write, read] = await Promise.all([
      box.startServer({ PLUGBOARD_API_KEY: bootstrap }),
      createKey(box, 'acme', 'write', 'ci'),
      createKey(box, 'acme', 'read', 'viewer'),
    ]);
    expect((await server.request('GET', '/api/connectors', { key: bootstrap })).status).toBe(200);

    // Works at once, with its role.
    const created = await server.request('POST', '/api/connectors', {
      key: write.key,
      body: { name: 'team chat', type: 'slack', params: {} },
    });
    expect(created.status).toBe(201);
    const listed = await server.request('GET', '/api/connectors', { key: read.key });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toHaveLength(1);
    const denied = await server.request('POST', '/api/connectors', {
      key: read.key,
      body: { name: 'other', type: 'slack', params: {} },
    });
    expect(denied.status).toBe(403);

    // The first use is recorded right away (later ones at most once a minute).
    const used = await waitFor(
      'keys list to show a last-used time',
      async () => {
        const { rows } = await listKeys(box, 'acme');
        const row = rows.find((r) => r.id === write.id);
        return row && row.lastUsed !== '-' ? row : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(Number.isNaN(Date.parse(used.lastUsed))).toBe(false);

    // Revoked while the server runs: refused within 5 seconds.
    const revoke = await box.run(['keys', 'revoke', write.id]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const revokedAt = Date.now();
    const status = await waitFor(
      'the revoked key to be refused',
      async () => {
        const response = await server.request('GET', '/api/connectors', { key: write.key });
        return response.status === 401 ? response.status : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    // The other key is untouched.
    expect((await server.request('GET', '/api/connectors', { key: read.key })).status).toBe(200);

    // Nothing the CLI did ended up in the server's logs.
    for (const line of server.rawLogLines()) {
      expect(line).not.toContain(write.key);
      expect(line).not.toContain(read.key);
    }
  });
});
