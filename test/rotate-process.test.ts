import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import { readKeyFile } from '../src/secrets/keyring.js';
import { typeOf, validParams } from './helpers.js';
import { type EnvOverrides, type ServerProcess, sandboxPerTest, sleep } from './process-helpers.js';

const sandbox = sandboxPerTest();
const BOOTSTRAP = 'rotate-process-bootstrap-key-0123456789';

function env(extra: EnvOverrides = {}): EnvOverrides {
  return { PLUGBOARD_API_KEY: BOOTSTRAP, ...extra };
}

function fileKeyIds(path: string): string[] {
  return readKeyFile(path).keys.map((key) => key.id);
}

const typeIds = ['github', 'jira', 'discord', 'dingtalk', 'zendesk'];
function body(i: number) {
  const type = typeOf(typeIds[i % typeIds.length] ?? 'github');
  return { name: `connector ${i}`, type: type.id, params: validParams(type, `c${i}`) };
}

interface Created {
  readonly key: string;
  readonly payload: ReturnType<typeof body>;
  readonly connector: Connector;
}

async function post(server: ServerProcess, i: number): Promise<Created> {
  const key = `create-${i}`;
  const payload = body(i);
  const response = await server.request('POST', '/api/connectors', {
    key: BOOTSTRAP,
    body: payload,
    headers: { 'idempotency-key': key },
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`POST ${i}: ${response.status} ${text}`);
  return { key, payload, connector: JSON.parse(text) as Connector };
}

/** Key ids that sealed connectors' secrets and idempotency records, read past the API. */
function sealedKeyIds(dbPath: string): { connectors: string[]; records: string[] } {
  const sqlite = new SqliteDatabase(dbPath, { readonly: true, fileMustExist: true });
  try {
    const connectors = sqlite
      .prepare('select distinct secret_key_id as id from connectors where secret_key_id is not null')
      .all() as { id: string }[];
    const records = sqlite
      .prepare("select distinct substr(response, 1, 16) as id from idempotency_keys where state = 'done'")
      .all() as { id: string }[];
    return { connectors: connectors.map((r) => r.id).sort(), records: records.map((r) => r.id).sort() };
  } finally {
    sqlite.close();
  }
}

/** The id of the master key that seals the hash key of the API keys, read past the API. */
function hashKeySealedWith(dbPath: string): string | undefined {
  const sqlite = new SqliteDatabase(dbPath, { readonly: true, fileMustExist: true });
  try {
    const row = sqlite.prepare('select master_key_id as id from hash_keys').get() as
      | { id: string }
      | undefined;
    return row?.id;
  } finally {
    sqlite.close();
  }
}

describe('plugboard secrets rotate while a server takes creates', () => {
  it('re-seals everything that appeared meanwhile, records included, retires the old key, and servers keep working', async () => {
    const box = sandbox();
    const busy = await box.startServer(env());
    const idle = await box.startServer(env());
    const keyFile = `${box.dbPath}.key`;
    const [oldId = ''] = fileKeyIds(keyFile);

    const created: Created[] = [];
    for (let i = 0; i < 20; i++) created.push(await post(busy, i));
    // A key made by the command before the rotation, stored as a keyed hash.
    const made = await box.run(['keys', 'create', '--account', 'default', '--role', 'read'], env());
    expect(made.code, made.stderr).toBe(0);
    const cliKey = made.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect((await busy.call('GET', '/api/connectors', { key: cliKey })).status).toBe(200);

    // A create every ~20 ms, each with its own Idempotency-Key, until rotate is done.
    const failures: string[] = [];
    let stopping = false;
    let next = created.length;
    const creator = (async () => {
      while (!stopping) {
        try {
          created.push(await post(busy, next++));
        } catch (error) {
          failures.push(String(error));
        }
        await sleep(20);
      }
    })();
    const rotate = box.spawn(['secrets', 'rotate'], env());
    const exit = await rotate.waitForExit(30_000);
    const rotatedAt = created.length;
    stopping = true;
    await creator;

    expect(exit.code, `${rotate.stdout}\n${rotate.stderr}`).toBe(0);
    expect(failures).toEqual([]);
    expect(rotatedAt).toBeGreaterThan(40);
    const [newId = ''] = fileKeyIds(keyFile);
    expect(fileKeyIds(keyFile)).toEqual([newId]);
    expect(newId).not.toBe(oldId);
    expect(rotate.stdout).toMatch(
      new RegExp(
        `verified that all \\d+ connector\\(s\\) with secrets and all \\d+ idempotency record\\(s\\) open under key ${newId}`,
      ),
    );
    expect(rotate.stdout).toContain(`Removed the retired master key(s) ${oldId} from key file ${keyFile}`);
    expect(rotate.stderr).toMatch(/re-sealed \d+ of \d+ idempotency records/);
    expect(rotate.stdout).toContain(`Re-sealed the hash key of the API keys under key ${newId}`);
    expect(hashKeySealedWith(box.dbPath)).toBe(newId);

    // Nothing under the old key: not even a create that was in flight when rotate ended.
    expect(sealedKeyIds(box.dbPath)).toEqual({ connectors: [newId], records: [newId] });

    // Both servers (the idle one still holds only the old key in memory) read everything, replay
    // every Idempotency-Key, and seal new creates with the new key at once.
    for (const server of [idle, busy]) {
      for (const { key, payload, connector } of created) {
        const read = await server.call('GET', `/api/connectors/${connector.id}`, { key: BOOTSTRAP });
        expect(read.status, connector.id).toBe(200);
        expect((read.body as Connector).params).toEqual(payload.params);
        const replay = await server.request('POST', '/api/connectors', {
          key: BOOTSTRAP,
          body: payload,
          headers: { 'idempotency-key': key },
        });
        expect(replay.status, key).toBe(201);
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
        expect(((await replay.json()) as Connector).id).toBe(connector.id);
      }
      await post(server, next++);
      expect(sealedKeyIds(box.dbPath)).toEqual({ connectors: [newId], records: [newId] });
    }

    // A restart opens everything with the one key left in the file.
    busy.signal('SIGTERM');
    idle.signal('SIGTERM');
    expect((await busy.waitForExit()).code).toBe(0);
    expect((await idle.waitForExit()).code).toBe(0);
    const restarted = await box.startServer(env());
    for (const { payload, connector } of created) {
      const read = await restarted.call('GET', `/api/connectors/${connector.id}`, { key: BOOTSTRAP });
      expect((read.body as Connector).params).toEqual(payload.params);
    }
    // The API keys never depended on the master key: the old one is gone and every key works, the
    // command's too, and a key the command makes now as well.
    expect((await restarted.call('GET', '/api/connectors', { key: cliKey })).status).toBe(200);
    const later = await box.run(['keys', 'create', '--account', 'default', '--role', 'read'], env());
    expect(later.code, later.stderr).toBe(0);
    const laterKey = later.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect((await restarted.call('GET', '/api/connectors', { key: laterKey })).status).toBe(200);
  }, 60_000);
});
