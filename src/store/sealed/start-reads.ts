/**
 * PostgreSQL: everything a server's start reads to check its keys and upgrade stored hashes, in
 * one statement (issue 15). The start's checks took four rounds one after another (the migrations'
 * list; the hash key, the key ids in use; a sample connector per key id; the unkeyed hashes and
 * unowned idempotency records), each waiting ~5-15 ms for a connection's backend and the event
 * loop of a process still building its app. This statement is sent beside the migrations' check
 * (serve), on a connection of its own, so the checks take one round: its answer is used only when
 * that check finds the database up to date; otherwise (migrations to apply, a table missing, any
 * error) the checks read everything again as before, after migrating. Only reads: nothing is
 * written, opened or decided here; the checks that use it are the same, in the same order, with
 * the same messages.
 *
 * It runs beside a migration when one is pending, holding shared locks on the tables it reads
 * while it runs: a migration's ALTER TABLE waits for it (milliseconds). A future migration that
 * locks one of these tables and then another that this statement has already locked could deadlock
 * with it, and PostgreSQL might abort the migration (that start fails; the next one migrates): a
 * migration that alters these tables should be checked for that, or the early read skipped when
 * migrations are pending.
 */
import { type Kysely, sql } from 'kysely';
import { MASTER_KEY_ID_LENGTH } from '../../secrets/cipher.js';
import { KEYED_PREFIX, type StoredHashKey } from '../../secrets/hash-key.js';
import { IDEMPOTENCY_TTL_MS } from '../idempotency-store.js';
import type { Database } from '../schema.js';
import { HASH_KEY_ROW } from './hash-key.js';
import { CONNECTOR_KEY_IDS_CTE, type StoredKeys } from './rows.js';

/** One connector sealed with a key id (the first the index finds), as verifyKeyring reads it. */
export interface KeySample {
  readonly id: string;
  readonly type: string;
  readonly secrets: string | null;
}

/** What the upgrade of stored hashes reads first (upgradeStoredHashes). */
export interface UpgradeCandidates {
  /** API keys whose hash is not keyed yet. */
  readonly unkeyedApiKeys: readonly { readonly id: string; readonly key_hash: string }[];
  /** Idempotency records whose fingerprint is not keyed yet. */
  readonly unkeyedRecords: readonly {
    readonly account_id: number;
    readonly api_key_id: string;
    readonly key: string;
    readonly request_hash: string;
  }[];
  /** Idempotency records of the time before records had an owner. */
  readonly unownedRecords: readonly {
    readonly account_id: number;
    readonly key: string;
    readonly response: string | null;
  }[];
}

export interface StartReads {
  readonly stored: StoredKeys;
  /** A sample per connector key id (undefined: none found any more). */
  readonly samples: ReadonlyMap<string, KeySample | undefined>;
  readonly upgrade: UpgradeCandidates;
}

interface Row {
  hash_key: { sealed: string; master_key_id: string } | null;
  connector_keys: { key_id: string; id: string | null; type: string | null; secrets: string | null }[];
  record_key_ids: string[];
  unkeyed_api_keys: UpgradeCandidates['unkeyedApiKeys'];
  unkeyed_records: UpgradeCandidates['unkeyedRecords'];
  unowned_records: UpgradeCandidates['unownedRecords'];
}

/**
 * The reads of readStoredKeys, verifyKeyring's samples and the upgrade's candidates, in one
 * statement (PostgreSQL only). The same queries as those functions run one by one: the key ids by
 * the same index seeks (connectorKeyIds), the record key ids of live records (recordKeyIds).
 */
export async function readStartState(db: Kysely<Database>, now = Date.now()): Promise<StartReads> {
  const since = new Date(now - IDEMPOTENCY_TTL_MS).toISOString();
  const unkeyed = `${KEYED_PREFIX}%`;
  const { rows } = await sql<Row>`${CONNECTOR_KEY_IDS_CTE}
    select
      (select json_build_object('sealed', sealed, 'master_key_id', master_key_id)
         from hash_keys where id = ${HASH_KEY_ROW}) as hash_key,
      (select coalesce(json_agg(json_build_object('key_id', ids.id, 'id', s.id, 'type', s.type,
                                                  'secrets', s.secrets) order by ids.id), '[]'::json)
         from ids left join lateral (
           select id, type, secrets from connectors c where c.secret_key_id = ids.id limit 1
         ) s on true
         where ids.id is not null) as connector_keys,
      (select coalesce(json_agg(distinct substr(response, 1, ${sql.lit(MASTER_KEY_ID_LENGTH)})), '[]'::json)
         from idempotency_keys
         where state = 'done' and response is not null and created_at >= ${since}) as record_key_ids,
      (select coalesce(json_agg(json_build_object('id', id, 'key_hash', key_hash)), '[]'::json)
         from api_keys where key_hash not like ${unkeyed}) as unkeyed_api_keys,
      (select coalesce(json_agg(json_build_object('account_id', account_id, 'api_key_id', api_key_id,
                                                  'key', key, 'request_hash', request_hash)), '[]'::json)
         from idempotency_keys where request_hash not like ${unkeyed}) as unkeyed_records,
      (select coalesce(json_agg(json_build_object('account_id', account_id, 'key', key,
                                                  'response', response)), '[]'::json)
         from idempotency_keys where api_key_id = '') as unowned_records`.execute(db);
  const row = rows[0];
  if (!row) throw new Error('the start reads returned no row');
  const hashKey: StoredHashKey | undefined = row.hash_key
    ? { sealed: row.hash_key.sealed, masterKeyId: row.hash_key.master_key_id }
    : undefined;
  const connectorKeyIds = row.connector_keys.map((key) => key.key_id);
  const samples = new Map<string, KeySample | undefined>();
  for (const key of row.connector_keys) {
    samples.set(
      key.key_id,
      key.id === null || key.type === null ? undefined : { id: key.id, type: key.type, secrets: key.secrets },
    );
  }
  const records = [...row.record_key_ids].sort();
  const ids = new Set([
    ...connectorKeyIds,
    ...records,
    ...(hashKey === undefined ? [] : [hashKey.masterKeyId]),
  ]);
  return {
    stored: { connectorKeyIds, inUse: [...ids].sort(), hashKey },
    samples,
    upgrade: {
      unkeyedApiKeys: row.unkeyed_api_keys,
      unkeyedRecords: row.unkeyed_records,
      unownedRecords: row.unowned_records,
    },
  };
}
