/**
 * `plugboard copy` (src/store/copy/, src/cli/copy.ts): a SQLite file into a PostgreSQL schema and
 * back, exact to the column; served identically afterwards; resumable; refusing a target with other
 * data, the same database twice and a source from a newer Plugboard; and the real command once,
 * end to end, with a server started on the copy.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createLogger } from '../src/logger.js';
import { createHashing } from '../src/secrets/hash-key.js';
import {
  ephemeralKeyring,
  type KeyringSource,
  keyFilePath,
  keyringFromFile,
} from '../src/secrets/keyring.js';
import { CopyRefusedError } from '../src/store/copy/plan.js';
import { copyDatabase } from '../src/store/copy/run.js';
import { COPIED_TABLES, type CopyProgress } from '../src/store/copy/types.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../src/store/database.js';
import { createKeyStore } from '../src/store/key-store.js';
import type { DatabaseLocation } from '../src/store/location.js';
import { openHashing } from '../src/store/sealed/hash-key.js';
import { dropPostgresSchema, newPostgresLocation, postgresTestUrl } from './backend.js';
import { typeOf, validBody } from './helpers.js';
import { Sandbox } from './process-helpers.js';

const KEY_COLUMN = {
  accounts: 'id',
  api_keys: 'id',
  connectors: 'seq',
  audit_events: 'seq',
  hash_keys: 'id',
} as const;

type Dump = Record<string, Record<string, unknown>[]>;

/** Every row of every copied table (and of idempotency_keys), in key order, every column. */
async function dump(handle: DatabaseHandle): Promise<Dump> {
  const result: Dump = {};
  for (const table of COPIED_TABLES) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(handle.db);
    const key = KEY_COLUMN[table];
    result[table] = rows.sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : 1));
    if (typeof rows[0]?.seq === 'number') rows.sort((a, b) => Number(a.seq) - Number(b.seq));
  }
  const { rows } = await sql<Record<string, unknown>>`select * from idempotency_keys`.execute(handle.db);
  result.idempotency_keys = rows;
  return result;
}

function withoutIdempotency(d: Dump): Dump {
  const { idempotency_keys: _, ...rest } = d;
  return rest;
}

interface Populated {
  readonly keys: { acme: string; acmeRead: string; globex: string };
  readonly connectors: number;
}

/**
 * A few hundred connectors in two accounts through the real app (so with sealed secrets, audit
 * events, deleted rows leaving gaps in `seq`, a stored check result and an idempotency key).
 */
async function populate(handle: DatabaseHandle, keyring: KeyringSource, count = 300): Promise<Populated> {
  const keyStore = createKeyStore(handle.db, await openHashing(handle.db, keyring));
  const keys = {
    acme: (await keyStore.create('acme', 'write', 'acme write')).secret,
    acmeRead: (await keyStore.create('acme', 'read', 'acme read')).secret,
    globex: (await keyStore.create('globex', 'write', 'globex write')).secret,
  };
  await keyStore.create('globex', 'read', 'expiring', new Date(Date.now() + 86_400_000).toISOString());
  const app = await buildApp({ database: handle, logger: createLogger('silent'), keyring });
  try {
    const types = ['jira', 'github', 'zendesk', 'slack', 'dingtalk', 'dynamic'].map(typeOf);
    const created: { id: string; key: string; type: string; name: string }[] = [];
    for (let i = 0; i < count; i++) {
      const type = types[i % types.length];
      if (!type) throw new Error('no type');
      const key = i % 3 === 2 ? keys.globex : keys.acme;
      const body = validBody(type, `connector ${i}`, `m${i}`);
      const response = await app.inject({
        method: 'POST',
        url: '/api/connectors',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          ...(i === 0 ? { 'idempotency-key': 'copy-test-0' } : {}),
        },
        payload: JSON.stringify(body),
      });
      expect(response.statusCode, response.body).toBe(201);
      created.push({ id: response.json<{ id: string }>().id, key, type: type.id, name: body.name });
    }
    for (const [i, connector] of created.entries()) {
      const headers = { authorization: `Bearer ${connector.key}`, 'content-type': 'application/json' };
      if (i % 7 === 0) {
        const body = validBody(typeOf(connector.type), `${connector.name} (renamed)`, `u${i}`);
        const response = await app.inject({
          method: 'PUT',
          url: `/api/connectors/${connector.id}`,
          headers,
          payload: JSON.stringify(body),
        });
        expect(response.statusCode, response.body).toBe(200);
      } else if (i % 11 === 0) {
        const response = await app.inject({
          method: 'DELETE',
          url: `/api/connectors/${connector.id}`,
          headers: { authorization: headers.authorization },
        });
        expect(response.statusCode).toBe(204);
      }
    }
    const checked = created[1];
    if (checked) {
      const result =
        '{"ok":false,"status":"unreachable","message":"test","latencyMs":1,"checkedAt":"2026-01-01T00:00:00.000Z"}';
      await handle.db
        .updateTable('connectors')
        .set({ last_check: result })
        .where('id', '=', checked.id)
        .execute();
    }
  } finally {
    await app.close();
  }
  const remaining = await handle.db
    .selectFrom('connectors')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return { keys, connectors: Number(remaining.n) };
}

/** GET responses of both apps, page by page, for each key: lists, single connectors by id and name, the audit trail. */
async function expectServedAlike(
  a: FastifyInstance,
  b: FastifyInstance,
  keys: readonly string[],
): Promise<void> {
  const get = async (app: FastifyInstance, key: string, url: string) => {
    const response = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
    return { status: response.statusCode, body: response.body, etag: response.headers.etag };
  };
  for (const key of keys) {
    for (let start = 0; ; start += 100) {
      const url = `/api/connectors?start-index=${start}&max-results=100`;
      const [fromA, fromB] = [await get(a, key, url), await get(b, key, url)];
      expect(fromB).toEqual(fromA);
      const page = JSON.parse(fromA.body) as { id: string; name: string }[];
      for (const connector of page.filter((_, i) => i % 10 === 0)) {
        for (const one of [
          `/api/connectors/${connector.id}`,
          `/api/connectors/name/${encodeURIComponent(connector.name)}`,
        ]) {
          expect(await get(b, key, one)).toEqual(await get(a, key, one));
        }
      }
      if (page.length < 100) break;
    }
    const audit = '/api/audit-events?max-results=100';
    expect(await get(b, key, audit)).toEqual(await get(a, key, audit));
  }
}

const TYPES_WITH_SECRETS = new Set(['jira', 'github', 'zendesk', 'dingtalk', 'dynamic']);

describe('plugboard copy, in process', () => {
  let dir = '';
  let source: DatabaseHandle;
  let keyring: KeyringSource;
  let populated: Populated;
  let sourceDump: Dump;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plugboard-copy-'));
    source = openDatabase({ kind: 'sqlite', path: join(dir, 'source.db') }, { synchronous: 'NORMAL' });
    await migrateToLatest(source);
    keyring = ephemeralKeyring();
    populated = await populate(source, keyring);
    sourceDump = await dump(source);
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await source?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An empty PostgreSQL schema of its own, dropped after the file. */
  async function postgresTarget(): Promise<DatabaseHandle> {
    const location = await newPostgresLocation();
    const handle = openDatabase(location, { poolSize: 4 });
    cleanups.push(async () => {
      await handle.close();
      if (location.schema) await dropPostgresSchema(location.schema);
    });
    return handle;
  }

  function sqliteTarget(name: string): DatabaseHandle {
    const handle = openDatabase({ kind: 'sqlite', path: join(dir, name) });
    cleanups.push(() => handle.close());
    return handle;
  }

  it('copies a SQLite file into PostgreSQL exactly, serves it identically, and new rows get new keys', async () => {
    expect(populated.connectors).toBeGreaterThan(250);
    expect(sourceDump.idempotency_keys).toHaveLength(1);
    const target = await postgresTarget();
    const progress: CopyProgress[] = [];
    const report = await copyDatabase(source, target, {
      batchSize: 64,
      keyring,
      onProgress: (p) => progress.push(p),
    });

    expect(report.problems).toEqual([]);
    expect(report.migrated.target).toContain('0001-initial');
    for (const table of report.tables) {
      expect(table.copied, table.table).toBe(sourceDump[table.table]?.length);
      expect(table.alreadyThere).toBe(0);
      expect(table.targetRows).toBe(table.sourceRows);
      expect(table.identical).toBe(table.sourceRows);
    }
    for (const check of report.counts) expect(check.target, JSON.stringify(check)).toBe(check.source);
    const perAccount = report.counts.filter((c) => c.table === 'connectors' && c.account);
    expect(perAccount.map((c) => c.account?.name).sort()).toEqual(['acme', 'globex']);
    const sealed = sourceDump.connectors?.filter((row) => row.secrets !== null) ?? [];
    expect(sealed.length).toBeGreaterThan(200);
    expect(report.secrets).toEqual({ opened: sealed.length, failed: [], failedCount: 0 });
    expect(report.sequencesReset).toEqual(['accounts.id', 'connectors.seq', 'audit_events.seq']);
    // Progress per batch, ending at the total of each table.
    const lastCopy = progress.filter((p) => p.phase === 'copy' && p.table === 'connectors').at(-1);
    expect(lastCopy).toMatchObject({ done: populated.connectors, total: populated.connectors });
    expect(progress.filter((p) => p.phase === 'copy' && p.table === 'connectors').length).toBe(
      Math.ceil(populated.connectors / 64) + 1,
    );

    // Every column of every row, byte for byte (sealed secrets and their key ids included); no idempotency key.
    const copied = await dump(target);
    expect(withoutIdempotency(copied)).toEqual(withoutIdempotency(sourceDump));
    expect(copied.idempotency_keys).toEqual([]);

    // Served identically: an app on each database, the same keyring.
    const logger = createLogger('silent');
    const [fromSource, fromTarget] = [
      await buildApp({ database: source, logger, keyring }),
      await buildApp({ database: target, logger, keyring }),
    ];
    try {
      await expectServedAlike(fromSource, fromTarget, [
        populated.keys.acme,
        populated.keys.acmeRead,
        populated.keys.globex,
      ]);
      // The secrets read back in full on the target.
      const page = await fromTarget.inject({
        method: 'GET',
        url: '/api/connectors?max-results=10',
        headers: { authorization: `Bearer ${populated.keys.acme}` },
      });
      const jira = page
        .json<{ type: string; params: Record<string, string> }[]>()
        .find((c) => c.type === 'jira');
      expect(jira?.params.password).toMatch(/^password-[mu]\d+$/);

      // The sequences go on after the copied rows: a new connector, and a new account, work.
      const maxSeq = Math.max(...(sourceDump.connectors ?? []).map((row) => Number(row.seq)));
      const created = await fromTarget.inject({
        method: 'POST',
        url: '/api/connectors',
        headers: { authorization: `Bearer ${populated.keys.globex}`, 'content-type': 'application/json' },
        payload: JSON.stringify(validBody(typeOf('github'), 'made after the copy')),
      });
      expect(created.statusCode, created.body).toBe(201);
      const row = await target.db
        .selectFrom('connectors')
        .select('seq')
        .where('name', '=', 'made after the copy')
        .executeTakeFirstOrThrow();
      expect(row.seq).toBe(maxSeq + 1);
      await createKeyStore(target.db, await openHashing(target.db, keyring)).create(
        'initech',
        'write',
        'new account',
      );
      const account = await target.db
        .selectFrom('accounts')
        .select('id')
        .where('name', '=', 'initech')
        .executeTakeFirstOrThrow();
      const maxAccount = Math.max(...(sourceDump.accounts ?? []).map((row) => Number(row.id)));
      expect(account.id).toBe(maxAccount + 1);
    } finally {
      await fromSource.close();
      await fromTarget.close();
    }
  });

  it('an interrupted copy resumes where it stopped, past a key created and rows changed in the source meanwhile', async () => {
    const target = await postgresTarget();
    const current = await dump(source);
    await expect(
      copyDatabase(source, target, {
        batchSize: 50,
        keyring,
        onProgress: (p) => {
          if (p.phase === 'copy' && p.table === 'connectors' && p.copied > 0) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    const partial = await dump(target);
    expect(partial.accounts).toEqual(current.accounts);
    expect(partial.api_keys).toEqual(current.api_keys);
    expect(partial.connectors).toEqual(current.connectors?.slice(0, 50));
    expect(partial.audit_events).toEqual([]);

    // Meanwhile a server kept running on the source: a key made since, with an id below every
    // copied one (ids are random text), a copied key used, a copied connector renamed.
    const [template] = current.api_keys ?? [];
    const renamed = current.connectors?.[3];
    if (!template || !renamed) throw new Error('no rows');
    const early = {
      ...template,
      id: 'key_0000000000',
      key_hash: randomBytes(32).toString('hex'),
      label: 'late',
    };
    const restore = async () => {
      await source.db.deleteFrom('api_keys').where('id', '=', early.id).execute();
      await sql`update api_keys set last_used_at = ${template.last_used_at} where id = ${template.id}`.execute(
        source.db,
      );
      await sql`update connectors set name = ${renamed.name}, updated_at = ${renamed.updated_at}
        where seq = ${renamed.seq}`.execute(source.db);
    };
    await source.db
      .insertInto('api_keys')
      .values(early as never)
      .execute();
    await sql`update api_keys set last_used_at = '2026-12-31T00:00:00.000Z' where id = ${template.id}`.execute(
      source.db,
    );
    await sql`update connectors set name = 'renamed meanwhile', updated_at = '2026-12-31T00:00:00.000Z'
      where seq = ${renamed.seq}`.execute(source.db);
    try {
      // Without --force, rows copied earlier are not set back to what the source says now.
      const refused = copyDatabase(source, target, { batchSize: 50, keyring });
      await expect(refused).rejects.toThrow(CopyRefusedError);
      await expect(refused).rejects.toThrow(
        new RegExp(
          `2 rows copied into the target .* differ from the source .*: api_keys id ${template.id} \\(last_used_at\\); connectors seq ${renamed.seq} \\((name, updated_at|updated_at, name)\\)\\. No row was written\\..*--force`,
        ),
      );
      expect(await dump(target)).toEqual(partial);
      const report = await copyDatabase(source, target, { batchSize: 50, keyring, force: true });
      expect(report.problems).toEqual([]);
      const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
      expect(byTable.connectors).toMatchObject({
        alreadyThere: 50,
        copied: populated.connectors - 50,
        refreshed: 1,
      });
      expect(byTable.accounts).toMatchObject({ alreadyThere: 2, copied: 0, refreshed: 0 });
      expect(byTable.api_keys).toMatchObject({ alreadyThere: 4, copied: 1, refreshed: 1 });
      expect(withoutIdempotency(await dump(target))).toEqual(withoutIdempotency(await dump(source)));

      // Once more: nothing left to do, and still verified.
      const again = await copyDatabase(source, target, { batchSize: 50, keyring });
      expect(again.problems).toEqual([]);
      expect(again.tables.map((t) => [t.copied, t.refreshed])).toEqual([
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 0],
      ]);
    } finally {
      await restore();
    }
  });

  it('refuses a second copy into a target a server has used since the first, saying what would change (issue 11, finding 13)', async () => {
    const target = await postgresTarget();
    expect((await copyDatabase(source, target, { keyring })).problems).toEqual([]);
    // A server on the target: a key used and another revoked there.
    const [used, revoked] = sourceDump.api_keys ?? [];
    if (!used || !revoked) throw new Error('no keys');
    await sql`update api_keys set last_used_at = '2026-12-30T00:00:00.000Z' where id = ${used.id}`.execute(
      target.db,
    );
    await sql`update api_keys set revoked_at = '2026-12-30T00:00:00.000Z' where id = ${revoked.id}`.execute(
      target.db,
    );
    const before = await dump(target);
    const again = copyDatabase(source, target, { keyring });
    await expect(again).rejects.toThrow(CopyRefusedError);
    await expect(again).rejects.toThrow(
      new RegExp(
        `2 rows copied into the target .* set them back to the source's state: api_keys id ${used.id} \\(last_used_at\\); api_keys id ${revoked.id} \\(revoked_at\\)\\. No row was written`,
      ),
    );
    expect(await dump(target)).toEqual(before);
    // --force: the source's state, as asked.
    const forced = await copyDatabase(source, target, { keyring, force: true });
    expect(forced.problems).toEqual([]);
    expect(forced.tables.find((t) => t.table === 'api_keys')?.refreshed).toBe(2);
  });

  it('refuses a target that holds other data, writing nothing', async () => {
    // A server was started on the target first: it made account "default" (id 1) and a key.
    const used = await postgresTarget();
    await migrateToLatest(used);
    await createKeyStore(used.db, createHashing(randomBytes(32))).create(
      'default',
      'write',
      'created on first start',
    );
    const before = await dump(used);
    const refused = copyDatabase(source, used, { keyring });
    await expect(refused).rejects.toThrow(CopyRefusedError);
    await expect(refused).rejects.toThrow(
      /already holds data that is not in the source .*: accounts id 1 is another row in the source \(created_at, name differ\); api_keys id key_[\w-]+ is not in the source/,
    );
    await expect(refused).rejects.toThrow(/No row was written/);
    expect(await dump(used)).toEqual(before);

    // A complete copy in which one connector got another id (same account and name)...
    const changed = await postgresTarget();
    expect((await copyDatabase(source, changed, { keyring })).problems).toEqual([]);
    const victim = sourceDump.connectors?.[5];
    await sql`update connectors set id = 'another-id' where seq = ${victim?.seq}`.execute(changed.db);
    // ...and an account name that maps to another id.
    await sql`update accounts set name = 'acme-old' where name = 'acme'`.execute(changed.db);
    await sql`insert into accounts (name, created_at) values ('acme', '2026-01-01T00:00:00.000Z')`.execute(
      changed.db,
    );
    const changedBefore = await dump(changed);
    const message = await copyDatabase(source, changed, { keyring }).then(
      () => '',
      (error: Error) => error.message,
    );
    expect(message).toMatch(/accounts id 1 is another row in the source \(name differ\)/);
    expect(message).toMatch(/accounts id \d+ is not in the source/);
    expect(message).toMatch(
      new RegExp(`connectors seq ${victim?.seq} is another row in the source \\(id differ\\)`),
    );
    expect(await dump(changed)).toEqual(changedBefore);
  });

  it('copies PostgreSQL back into SQLite exactly', async () => {
    const middle = await postgresTarget();
    expect((await copyDatabase(source, middle, { keyring })).problems).toEqual([]);
    const back = sqliteTarget('back.db');
    const report = await copyDatabase(middle, back, { keyring, batchSize: 1000 });
    expect(report.problems).toEqual([]);
    expect(report.sequencesReset).toEqual([]);
    expect(withoutIdempotency(await dump(back))).toEqual(withoutIdempotency(await dump(source)));
    // SQLite's AUTOINCREMENT continues after the copied rows by itself.
    const app = await buildApp({ database: back, logger: createLogger('silent'), keyring });
    try {
      const created = await app.inject({
        method: 'POST',
        url: '/api/connectors',
        headers: { authorization: `Bearer ${populated.keys.acme}`, 'content-type': 'application/json' },
        payload: JSON.stringify(validBody(typeOf('slack'), 'made in the copy of the copy')),
      });
      expect(created.statusCode, created.body).toBe(201);
    } finally {
      await app.close();
    }
  });

  it('refuses the same database twice, a source from a newer Plugboard, and a source with no Plugboard database', async () => {
    const samePath = openDatabase({ kind: 'sqlite', path: join(dir, '.', 'source.db') });
    cleanups.push(() => samePath.close());
    await expect(copyDatabase(source, samePath)).rejects.toThrow(/--from and --to are the same database/);

    const location = await newPostgresLocation();
    const first = openDatabase(location, { poolSize: 2 });
    const second = openDatabase({ ...location, description: 'another spelling' }, { poolSize: 2 });
    cleanups.push(async () => {
      await first.close();
      await second.close();
      if (location.schema) await dropPostgresSchema(location.schema);
    });
    await migrateToLatest(first);
    await expect(copyDatabase(first, second)).rejects.toThrow(/same database/);

    const target = await postgresTarget();
    await sql`insert into kysely_migration (name, timestamp) values ('9999-from-the-future', '2030-01-01')`.execute(
      source.db,
    );
    try {
      await expect(copyDatabase(source, target)).rejects.toThrow(
        /the source database sqlite:.* has migrations that this Plugboard does not know \(9999-from-the-future\)/,
      );
    } finally {
      await sql`delete from kysely_migration where name = '9999-from-the-future'`.execute(source.db);
    }
    // Nothing was created in the target (not even the tables: the check comes first).
    const { rows } =
      await sql`select 1 from information_schema.tables where table_schema = current_schema()`.execute(
        target.db,
      );
    expect(rows).toEqual([]);

    // --from and --to swapped: an empty source is no Plugboard database.
    const empty = sqliteTarget('empty.db');
    await expect(copyDatabase(empty, target)).rejects.toThrow(/holds no Plugboard database/);
  });

  it('reports a wrong master key before copying anything', async () => {
    const target = await postgresTarget();
    await expect(copyDatabase(source, target, { keyring: ephemeralKeyring() })).rejects.toThrow(
      /sealed with master key .* does not hold/,
    );
    const { rows } = await sql`select count(*) as n from connectors`.execute(target.db);
    expect(rows).toEqual([{ n: '0' }]);
  });
});

describe('plugboard copy, the command', () => {
  let admin: pg.Client;
  let database = '';
  let targetUrl = '';
  let box: Sandbox;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: postgresTestUrl() });
    await admin.connect();
    database = `plugboard_copy_${randomBytes(6).toString('hex')}`;
    await admin.query(`create database ${database}`);
    const url = new URL(postgresTestUrl());
    url.pathname = `/${database}`;
    // Trust authentication ignores the password: it is there to show that it is never printed.
    url.password = 'Sup3rSecretPassw0rd';
    targetUrl = url.toString();
    box = new Sandbox();
  });

  afterAll(async () => {
    await box?.cleanup();
    if (admin) {
      await admin.query(`drop database if exists ${database} with (force)`);
      await admin.end();
    }
  });

  it('copies a SQLite database with a key file into PostgreSQL, and a server on the copy reads the secrets', async () => {
    // The sandbox's database, with its key file beside it (as `plugboard serve` makes it).
    const location: DatabaseLocation = { kind: 'sqlite', path: box.dbPath };
    const { source: keyring } = keyringFromFile(keyFilePath(box.dbPath), { create: true });
    const handle = openDatabase(location);
    let populated: Populated;
    try {
      await migrateToLatest(handle);
      populated = await populate(handle, keyring, 120);
    } finally {
      await handle.close();
    }
    const noKeys = { PLUGBOARD_MASTER_KEY: undefined, PLUGBOARD_PREVIOUS_MASTER_KEYS: undefined };

    const usage = await box.run(['copy', '--from', box.databaseUrl], noKeys);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/copy needs --from URL and --to URL/);

    const copy = await box.run(
      ['copy', '--from', box.databaseUrl, '--to', targetUrl, '--batch-size', '10'],
      noKeys,
      60_000,
    );
    expect(copy.code, copy.stderr).toBe(0);
    const output = `${copy.stdout}\n${copy.stderr}`;
    expect(output).not.toContain('Sup3rSecretPassw0rd');
    const keyText = readFileSync(keyFilePath(box.dbPath), 'utf8');
    const masterKey = keyText.split('\n').find((line) => line !== '' && !line.startsWith('#')) ?? '';
    expect(masterKey).toHaveLength(44);
    expect(output).not.toContain(masterKey);
    expect(copy.stdout).toMatch(
      /^Copied sqlite:.*p\.db to postgres:\/\/127\.0\.0\.1:5432\/plugboard_copy_\w+ in /,
    );
    expect(copy.stdout).toMatch(/^connectors +\(all\) +(\d+) +\1 +\1 +ok$/m);
    expect(copy.stdout).toMatch(/^connectors +acme \(1\) +(\d+) +\1 +ok$/m);
    expect(copy.stdout).toMatch(/^api_keys +globex \(\d+\) +2 +2 +ok$/m);
    expect(copy.stdout).toMatch(/Secrets: all \d+ connector\(s\) with secrets open from the target/);
    expect(copy.stdout).toMatch(/Not copied: idempotency keys/);
    expect(copy.stdout).toContain(`key file ${keyFilePath(box.dbPath)}`);
    expect(copy.stdout).toMatch(/Every PostgreSQL instance must be started with PLUGBOARD_MASTER_KEY/);
    // Not a terminal: plain progress lines, a handful per table rather than one per batch.
    const progressLines = copy.stderr.split('\n').filter((line) => line.startsWith('copying connectors'));
    expect(progressLines.length).toBeGreaterThan(2);
    expect(progressLines.length).toBeLessThanOrEqual(11);

    // Run again: everything is there already.
    const again = await box.run(['copy', '--from', box.databaseUrl, '--to', targetUrl], noKeys, 60_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^connectors +(\d+) +0 +\1 +0$/m);

    // A server on the copy, with the key from the file: the secrets read back.
    const server = await box.startServer({ DATABASE_URL: targetUrl, PLUGBOARD_MASTER_KEY: masterKey });
    const listed = await server.request('GET', '/api/connectors?max-results=100', {
      key: populated.keys.acme,
    });
    expect(listed.status).toBe(200);
    const connectors = (await listed.json()) as { type: string; params: Record<string, string> }[];
    const withSecrets = connectors.filter((c) => TYPES_WITH_SECRETS.has(c.type));
    expect(withSecrets.length).toBeGreaterThan(10);
    const github = withSecrets.find((c) => c.type === 'github');
    expect(github?.params.apiKey).toMatch(/^apiKey-[mu]\d+$/);
    const created = await server.request('POST', '/api/connectors', {
      key: populated.keys.globex,
      body: validBody(typeOf('zendesk'), 'after the move'),
    });
    expect(created.status).toBe(201);
  }, 120_000);
});
