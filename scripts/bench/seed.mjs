/**
 * Bulk seeding straight into the database (not through HTTP), with rows exactly as the service
 * writes them: the migrations of dist/ first, the API keys through the compiled key store, then
 * connector rows with the non-secret params as JSON and the secret params sealed by the compiled
 * secret box (AES-256-GCM bound to id and type) under the run's PLUGBOARD_MASTER_KEY, and
 * accounts.connectors_version raised as the creates would have raised it. No audit events.
 *
 * SQLite: better-sqlite3 prepared statements in transactions of 50,000 rows. PostgreSQL: one
 * INSERT … SELECT FROM unnest(…) per 5,000 rows, then VACUUM ANALYZE (index-only scans need the
 * visibility map).
 *
 * The 1,000,000-row paging databases are kept between runs (SQLite: a file under data/bench;
 * PostgreSQL: the database plugboard_bench, described by a COMMENT ON DATABASE) and reused while
 * the row count, the migrations and this seeder's version match; --fresh reseeds.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { connectorTypes, paramsFor } from './workload.mjs';

/** @import { SecretBox } from '../../src/secrets/secret-box.js' */
/** @import { ConnectorType } from '../../src/connectors/define.js' */

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The compiled module of `src/<path>` (typed by the caller as the source module). @param {string} path */
const dist = (path) => import(new URL(`dist/${path}`, `file://${root}`).href);

/** @type {typeof import('../../src/store/database.js')} */
const { openDatabase, migrateToLatest } = await dist('store/database.js');
/** @type {typeof import('../../src/store/location.js')} */
const { parseDatabaseUrl } = await dist('store/location.js');
/** @type {typeof import('../../src/store/key-store.js')} */
const { createKeyStore } = await dist('store/key-store.js');
/** @type {typeof import('../../src/secrets/keyring.js')} */
const { keyringFromEnvironment } = await dist('secrets/keyring.js');
/** @type {typeof import('../../src/store/sealed/hash-key.js')} */
const { openHashing } = await dist('store/sealed/hash-key.js');
/** @type {typeof import('../../src/secrets/secret-box.js')} */
const { createSecretBox } = await dist('secrets/secret-box.js');
/** @type {typeof import('../../src/connectors/secrets.js')} */
const { splitSecrets } = await dist('connectors/secrets.js');
/** @type {typeof import('../../src/store/migrations/index.js')} */
const { migrations } = await dist('store/migrations/index.js');

/** Seeding progress: rows done of the total. @typedef {(done: number, total: number) => void} Progress */
/**
 * What to seed.
 * @typedef {object} SeedSpec
 * @property {number} rows connectors in the bench account
 * @property {number} [deletePool] connectors in the delete account
 * @property {string} masterKey PLUGBOARD_MASTER_KEY of the run
 * @property {boolean} [collectIds] return the [id, type] of every bench connector
 * @property {Progress} [progress]
 */
/**
 * A seeded database: its keys, accounts and connectors.
 * @typedef {object} Seeded
 * @property {string} apiKey a write key of the bench account
 * @property {number} accountId
 * @property {string} [deleteApiKey]
 * @property {number} [deleteAccountId]
 * @property {[string, string][]} ids `[id, type]` of the bench connectors, when collected
 * @property {string[]} deleteIds
 * @property {number} seconds
 * @property {string} [url] PostgreSQL: the database's URL
 */
/**
 * A paging database, seeded or reused.
 * @typedef {object} PagingDatabase
 * @property {string} [path] SQLite: its file
 * @property {string} [url] PostgreSQL: its URL
 * @property {string} masterKey
 * @property {string} apiKey
 * @property {boolean} cached
 * @property {number} seconds
 */
/**
 * Connector rows as column arrays.
 * @typedef {{ id: string[]; account_id: number[]; type: string[]; name: string[]; params: string[]; secrets: (string | null)[]; secret_key_id: (string | null)[]; created_at: string[]; updated_at: string[] }} Columns
 */

/** Raise when the rows this file writes change: cached databases are then reseeded. */
const SEEDER_VERSION = 2;
export const BENCH_ACCOUNT = 'bench';
export const DELETE_ACCOUNT = 'bench-delete';

/** What a cached database must match: the migrations it was made with and this seeder. */
export function schemaKey() {
  const names = Object.keys(migrations).sort();
  return `${names.length}-${names.at(-1)}-s${SEEDER_VERSION}`;
}

export function newMasterKey() {
  return randomBytes(32).toString('base64');
}

/**
 * Connector rows `from` … `to - 1` of one account, as column arrays: what the connector store's
 * create() would insert (same id format, same split and sealing of secrets).
 * @param {SecretBox} box
 * @param {number} accountId
 * @param {number} from
 * @param {number} to
 * @param {string} namePrefix
 * @param {number} baseTime
 * @returns {Columns}
 */
function makeRows(box, accountId, from, to, namePrefix, baseTime) {
  const count = to - from;
  const ids = randomBytes(16 * count);
  /** @type {Columns} */
  const columns = {
    id: new Array(count),
    account_id: new Array(count),
    type: new Array(count),
    name: new Array(count),
    params: new Array(count),
    secrets: new Array(count),
    secret_key_id: new Array(count),
    created_at: new Array(count),
    updated_at: new Array(count),
  };
  for (let i = 0; i < count; i++) {
    const n = from + i;
    const type = /** @type {ConnectorType} */ (connectorTypes[n % connectorTypes.length]);
    const id = ids.subarray(16 * i, 16 * i + 16).toString('base64url');
    const { plain, secret } = splitSecrets(type, paramsFor(type, n));
    const at = new Date(baseTime + n * 7).toISOString();
    columns.id[i] = id;
    columns.account_id[i] = accountId;
    columns.type[i] = type.id;
    columns.name[i] = `${namePrefix} ${type.displayName} ${n}`;
    columns.params[i] = JSON.stringify(plain);
    if (Object.keys(secret).length === 0) {
      columns.secrets[i] = null;
      columns.secret_key_id[i] = null;
    } else {
      const sealed = box.seal(id, type.id, secret);
      columns.secrets[i] = sealed.sealed;
      columns.secret_key_id[i] = sealed.keyId;
    }
    columns.created_at[i] = at;
    columns.updated_at[i] = at;
  }
  return columns;
}

/**
 * Migrates, creates the API key(s) through the compiled key store; returns their secrets and accounts.
 * @param {string} databaseUrl
 * @param {{ deleteAccount: boolean, masterKey: string }} what the master key seals the hash key, as the server will open it
 */
async function prepare(databaseUrl, { deleteAccount, masterKey }) {
  const handle = openDatabase(parseDatabaseUrl(databaseUrl), { synchronous: 'NORMAL', poolSize: 2 });
  try {
    await migrateToLatest(handle);
    // Keyed hashes: the hash key is sealed with the run's master key, as the server will open it.
    const keys = createKeyStore(
      handle.db,
      await openHashing(handle.db, keyringFromEnvironment(masterKey, undefined)),
    );
    const label = `bench ${new Date().toISOString()}`;
    const bench = await keys.create(BENCH_ACCOUNT, 'write', label);
    const other = deleteAccount ? await keys.create(DELETE_ACCOUNT, 'write', label) : undefined;
    const accounts = await handle.db.selectFrom('accounts').select(['id', 'name']).execute();
    /** @param {string} name */
    const idOf = (name) => {
      const id = accounts.find((a) => a.name === name)?.id;
      if (id === undefined) throw new Error(`no account ${name} after creating its key`);
      return id;
    };
    return {
      apiKey: bench.secret,
      accountId: idOf(BENCH_ACCOUNT),
      ...(other ? { deleteApiKey: other.secret, deleteAccountId: idOf(DELETE_ACCOUNT) } : {}),
    };
  } finally {
    await handle.close();
  }
}

const SQLITE_BATCH = 50_000;
const POSTGRES_BATCH = 5_000;

/**
 * Seeds `rows` connectors in the bench account (and `deletePool` in the delete account) into a
 * SQLite file. Returns the keys, and the [id, type] of every bench connector when `collectIds`.
 * @param {string} path
 * @param {SeedSpec} spec
 * @returns {Promise<Seeded>}
 */
export async function seedSqlite(path, { rows, deletePool = 0, masterKey, collectIds = false, progress }) {
  mkdirSync(dirname(path), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  const started = performance.now();
  const keys = await prepare(`sqlite:${path}`, { deleteAccount: deletePool > 0, masterKey });
  const box = createSecretBox(keyringFromEnvironment(masterKey, undefined));
  const sqlite = new Sqlite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('cache_size = -524288');
  const insert = sqlite.prepare(
    `insert into connectors (id, account_id, type, name, params, secrets, secret_key_id, last_check, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, ?, null, ?, ?)`,
  );
  const insertAll = sqlite.transaction((/** @type {Columns} */ c) => {
    for (let i = 0; i < c.id.length; i++) {
      insert.run(
        c.id[i],
        c.account_id[i],
        c.type[i],
        c.name[i],
        c.params[i],
        c.secrets[i],
        c.secret_key_id[i],
        c.created_at[i],
        c.updated_at[i],
      );
    }
  });
  /** @type {[string, string][]} */
  const ids = [];
  const baseTime = Date.parse('2026-01-01T00:00:00.000Z');
  /** @param {number} accountId @param {number} count @param {string} prefix @param {boolean} collect */
  const fill = (accountId, count, prefix, collect) => {
    for (let from = 0; from < count; from += SQLITE_BATCH) {
      const columns = makeRows(box, accountId, from, Math.min(count, from + SQLITE_BATCH), prefix, baseTime);
      insertAll(columns);
      if (collect)
        for (let i = 0; i < columns.id.length; i++) ids.push([columns.id[i] ?? '', columns.type[i] ?? '']);
      progress?.(Math.min(count, from + SQLITE_BATCH), count);
    }
    sqlite.prepare('update accounts set connectors_version = ? where id = ?').run(count, accountId);
  };
  fill(keys.accountId, rows, 'connector', collectIds);
  /** @type {string[]} */
  const deleteIds = [];
  if (keys.deleteAccountId !== undefined) {
    const before = ids.length;
    fill(keys.deleteAccountId, deletePool, 'disposable', true);
    for (const [id] of ids.splice(before)) deleteIds.push(id);
  }
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  sqlite.close();
  return { ...keys, ids, deleteIds, seconds: (performance.now() - started) / 1000 };
}

/**
 * The URL of database `name` on the server of `adminUrl`.
 * @param {string} adminUrl
 * @param {string} name
 */
export function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Whether PostgreSQL answers at `adminUrl`: undefined when it does, else the reason.
 * @param {string} adminUrl
 * @returns {Promise<string | undefined>}
 */
export async function postgresProblem(adminUrl) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    return error instanceof Error ? error.message || code || error.name : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * @template T
 * @param {string} adminUrl
 * @param {(client: pg.Client) => Promise<T>} work
 * @returns {Promise<T>}
 */
async function withAdmin(adminUrl, work) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** @param {string} adminUrl @param {string} name */
async function recreateDatabase(adminUrl, name) {
  await withAdmin(adminUrl, async (client) => {
    const ident = client.escapeIdentifier(name);
    await client.query(`drop database if exists ${ident} with (force)`);
    await client.query(`create database ${ident}`);
  });
}

/**
 * Seeds into a new (dropped and recreated) PostgreSQL database `name`; as seedSqlite.
 * @param {string} adminUrl
 * @param {string} name
 * @param {SeedSpec} spec
 * @returns {Promise<Seeded>}
 */
export async function seedPostgres(
  adminUrl,
  name,
  { rows, deletePool = 0, masterKey, collectIds = false, progress },
) {
  const started = performance.now();
  await recreateDatabase(adminUrl, name);
  const url = databaseUrl(adminUrl, name);
  const keys = await prepare(url, { deleteAccount: deletePool > 0, masterKey });
  const box = createSecretBox(keyringFromEnvironment(masterKey, undefined));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  /** @type {[string, string][]} */
  const ids = [];
  /** @type {string[]} */
  const deleteIds = [];
  try {
    await client.query('set synchronous_commit = off');
    const baseTime = Date.parse('2026-01-01T00:00:00.000Z');
    /**
     * @param {number} accountId
     * @param {number} count
     * @param {string} prefix
     * @param {((id: string, type: string) => void) | undefined} sink
     */
    const fill = async (accountId, count, prefix, sink) => {
      // Make the next batch while PostgreSQL inserts the previous one.
      /** @type {Promise<unknown>} */
      let pending = Promise.resolve();
      for (let from = 0; from < count; from += POSTGRES_BATCH) {
        const to = Math.min(count, from + POSTGRES_BATCH);
        const c = makeRows(box, accountId, from, to, prefix, baseTime);
        await pending;
        pending = client
          .query(
            `insert into connectors (id, account_id, type, name, params, secrets, secret_key_id, created_at, updated_at)
             select * from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`,
            [
              c.id,
              c.account_id,
              c.type,
              c.name,
              c.params,
              c.secrets,
              c.secret_key_id,
              c.created_at,
              c.updated_at,
            ],
          )
          .then(() => progress?.(to, count));
        if (sink) for (let i = 0; i < c.id.length; i++) sink(c.id[i] ?? '', c.type[i] ?? '');
      }
      await pending;
      await client.query('update accounts set connectors_version = $1 where id = $2', [count, accountId]);
    };
    await fill(
      keys.accountId,
      rows,
      'connector',
      collectIds ? (id, type) => ids.push([id, type]) : undefined,
    );
    if (keys.deleteAccountId !== undefined)
      await fill(keys.deleteAccountId, deletePool, 'disposable', (id) => deleteIds.push(id));
    await client.query('vacuum analyze');
  } finally {
    await client.end().catch(() => {});
  }
  return { ...keys, url, ids, deleteIds, seconds: (performance.now() - started) / 1000 };
}

/**
 * A new write key in the bench account of an existing database (a cached paging database).
 * @param {string} databaseUrlText
 * @param {string} masterKey the run's PLUGBOARD_MASTER_KEY, which opens the database's hash key
 */
async function newBenchKey(databaseUrlText, masterKey) {
  const handle = openDatabase(parseDatabaseUrl(databaseUrlText), { poolSize: 1 });
  try {
    const { applied } = await migrateToLatest(handle);
    if (applied.length > 0) throw new Error(`the cached database needed migrations ${applied.join(', ')}`);
    return (
      await createKeyStore(
        handle.db,
        await openHashing(handle.db, keyringFromEnvironment(masterKey, undefined)),
      ).create(BENCH_ACCOUNT, 'write', `bench ${new Date().toISOString()}`)
    ).secret;
  } finally {
    await handle.close();
  }
}

/**
 * The SQLite paging database with `rows` connectors in the bench account: reused from the cache
 * directory when it matches, else seeded (into a temporary name, renamed when complete).
 * @param {string} cacheDir
 * @param {number} rows
 * @param {{ fresh: boolean; progress?: Progress }} how
 * @returns {Promise<PagingDatabase>}
 */
export async function sqlitePagingDatabase(cacheDir, rows, { fresh, progress }) {
  const key = schemaKey();
  const path = join(cacheDir, `paging-${rows}-${key}.db`);
  const metaPath = `${path}.json`;
  if (!fresh && existsSync(path) && existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
      if (meta.rows === rows && meta.schema === key && meta.complete) {
        const started = performance.now();
        const apiKey = await newBenchKey(`sqlite:${path}`, meta.masterKey);
        return {
          path,
          masterKey: meta.masterKey,
          apiKey,
          cached: true,
          seconds: (performance.now() - started) / 1000,
        };
      }
    } catch {
      // unreadable or stale: seed again
    }
  }
  for (const suffix of ['', '-wal', '-shm', '.json']) rmSync(`${path}${suffix}`, { force: true });
  const temporary = `${path}.seeding`;
  const masterKey = newMasterKey();
  const seeded = await seedSqlite(temporary, { rows, masterKey, progress });
  for (const suffix of ['-wal', '-shm']) rmSync(`${temporary}${suffix}`, { force: true });
  renameSync(temporary, path);
  writeFileSync(metaPath, `${JSON.stringify({ rows, schema: key, masterKey, complete: true }, null, 2)}\n`, {
    mode: 0o600,
  });
  return { path, masterKey, apiKey: seeded.apiKey, cached: false, seconds: seeded.seconds };
}

/**
 * The PostgreSQL paging database `name` with `rows` connectors: reused when its comment (written
 * only once seeding is complete) says it matches and the row count agrees, else seeded afresh.
 * @param {string} adminUrl
 * @param {string} name
 * @param {number} rows
 * @param {{ fresh: boolean; progress?: Progress }} how
 * @returns {Promise<PagingDatabase>}
 */
export async function postgresPagingDatabase(adminUrl, name, rows, { fresh, progress }) {
  const key = schemaKey();
  const url = databaseUrl(adminUrl, name);
  if (!fresh) {
    const meta = await withAdmin(adminUrl, async (client) => {
      const { rows: found } = await client.query(
        `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1`,
        [name],
      );
      try {
        return found[0]?.comment ? JSON.parse(found[0].comment) : undefined;
      } catch {
        return undefined;
      }
    });
    if (meta?.rows === rows && meta.schema === key && meta.complete) {
      const started = performance.now();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      let count = -1;
      try {
        const { rows: counted } = await client.query(
          `select count(*)::int as n from connectors c join accounts a on a.id = c.account_id where a.name = $1`,
          [BENCH_ACCOUNT],
        );
        count = counted[0]?.n ?? -1;
      } finally {
        await client.end().catch(() => {});
      }
      if (count === rows) {
        const apiKey = await newBenchKey(url, meta.masterKey);
        return {
          url,
          masterKey: meta.masterKey,
          apiKey,
          cached: true,
          seconds: (performance.now() - started) / 1000,
        };
      }
    }
  }
  const masterKey = newMasterKey();
  const seeded = await seedPostgres(adminUrl, name, { rows, masterKey, progress });
  await withAdmin(adminUrl, async (client) => {
    const comment = JSON.stringify({ rows, schema: key, masterKey, complete: true, bench: 'plugboard' });
    await client.query(
      `comment on database ${client.escapeIdentifier(name)} is ${client.escapeLiteral(comment)}`,
    );
  });
  return { url, masterKey, apiKey: seeded.apiKey, cached: false, seconds: seeded.seconds };
}

/** @param {string} adminUrl @param {string} name */
export async function dropPostgresDatabase(adminUrl, name) {
  await withAdmin(adminUrl, (client) =>
    client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`),
  );
}
