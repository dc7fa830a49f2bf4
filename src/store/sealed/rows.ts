/**
 * The store's queries over sealed values: connectors' secrets and idempotency records' responses,
 * read a batch at a time, counted and pruned by the key that sealed them. Re-sealing (reseal.ts),
 * the proof (prove.ts) and rotation (rotate.ts) run on these; secrets/ itself holds no SQL.
 */
import { type Kysely, sql } from 'kysely';
import { MASTER_KEY_ID_LENGTH } from '../../secrets/cipher.js';
import type { StoredHashKey } from '../../secrets/hash-key.js';
import { dialectOf } from '../dialect.js';
import { IDEMPOTENCY_TTL_MS } from '../idempotency-store.js';
import type { Database } from '../schema.js';
import { readHashKey } from './hash-key.js';

/**
 * The two kinds of stored values sealed with a master key: connectors' secrets, and the first
 * responses that idempotency records replay (they hold the created connector's params).
 */
export type SealedKind = 'connectors' | 'idempotency records';

export interface SealedConnector {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly secrets: string;
  readonly keyId: string;
}

export interface SealedRecord {
  readonly accountId: number;
  /** The API key whose record it is (several keys of an account may use the same Idempotency-Key). */
  readonly apiKeyId: string;
  readonly key: string;
  /** As stored: `<key id>|<sealed>`. */
  readonly response: string;
}

const recordPrefix = (keyId: string) => `${keyId}|%`;

/** Connectors with sealed secrets in creation order, a batch at a time; only those not under `notUnder` if given. */
export async function* connectorBatches(
  db: Kysely<Database>,
  batchSize: number,
  notUnder?: string,
): AsyncGenerator<SealedConnector[]> {
  let after = 0;
  for (;;) {
    let query = db
      .selectFrom('connectors')
      .select(['seq', 'id', 'type', 'secrets', 'secret_key_id'])
      .where('seq', '>', after)
      .where('secrets', 'is not', null)
      .where('secret_key_id', 'is not', null);
    if (notUnder !== undefined) query = query.where('secret_key_id', '!=', notUnder);
    const rows = await query.orderBy('seq').limit(batchSize).execute();
    const last = rows.at(-1);
    if (!last) return;
    const batch: SealedConnector[] = [];
    for (const row of rows) {
      if (row.secrets !== null && row.secret_key_id !== null)
        batch.push({
          seq: row.seq,
          id: row.id,
          type: row.type,
          secrets: row.secrets,
          keyId: row.secret_key_id,
        });
    }
    yield batch;
    after = last.seq;
  }
}

/** Completed idempotency records in (account, API key, Idempotency-Key) order, a batch at a time; only those not under `notUnder` if given. */
export async function* recordBatches(
  db: Kysely<Database>,
  batchSize: number,
  notUnder?: string,
): AsyncGenerator<SealedRecord[]> {
  let after: SealedRecord | undefined;
  for (;;) {
    let query = db
      .selectFrom('idempotency_keys')
      .select(['account_id', 'api_key_id', 'key', 'response'])
      .where('state', '=', 'done')
      .where('response', 'is not', null);
    if (notUnder !== undefined) query = query.where('response', 'not like', recordPrefix(notUnder));
    if (after) {
      const { accountId, apiKeyId, key } = after;
      query = query.where((eb) =>
        eb.or([
          eb('account_id', '>', accountId),
          eb.and([eb('account_id', '=', accountId), eb('api_key_id', '>', apiKeyId)]),
          eb.and([eb('account_id', '=', accountId), eb('api_key_id', '=', apiKeyId), eb('key', '>', key)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('account_id')
      .orderBy('api_key_id')
      .orderBy('key')
      .limit(batchSize)
      .execute();
    const batch: SealedRecord[] = [];
    for (const row of rows) {
      if (row.response !== null)
        batch.push({
          accountId: row.account_id,
          apiKeyId: row.api_key_id,
          key: row.key,
          response: row.response,
        });
    }
    after = batch.at(-1);
    if (!after) return;
    yield batch;
  }
}

/** How many values of each kind are sealed with another key than `keyId`. */
export async function countNotUnder(
  db: Kysely<Database>,
  keyId: string,
): Promise<Record<SealedKind, number>> {
  const connectors = await db
    .selectFrom('connectors')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('secret_key_id', 'is not', null)
    .where('secret_key_id', '!=', keyId)
    .executeTakeFirstOrThrow();
  const records = await db
    .selectFrom('idempotency_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('state', '=', 'done')
    .where('response', 'is not', null)
    .where('response', 'not like', recordPrefix(keyId))
    .executeTakeFirstOrThrow();
  return { connectors: Number(connectors.n), 'idempotency records': Number(records.n) };
}

/**
 * Deletes the idempotency records that could never be replayed: expired ones (as servers prune
 * them), and completed ones sealed with a key that `keyIds` does not hold (dropped before this
 * version re-sealed records). Returns how many.
 */
export async function forgetDeadRecords(db: Kysely<Database>, keyIds: readonly string[]): Promise<number> {
  const cutoff = new Date(Date.now() - IDEMPOTENCY_TTL_MS).toISOString();
  const expired = await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).executeTakeFirst();
  const prefix = sql<string>`substr(response, 1, ${sql.lit(MASTER_KEY_ID_LENGTH + 1)})`;
  const orphaned = await db
    .deleteFrom('idempotency_keys')
    .where('state', '=', 'done')
    .where('response', 'is not', null)
    .where(
      prefix,
      'not in',
      keyIds.map((id) => `${id}|`),
    )
    .executeTakeFirst();
  return Number(expired.numDeletedRows) + Number(orphaned.numDeletedRows);
}

/**
 * PostgreSQL: the distinct key ids of sealed connectors as `ids(id)` (its last row null), by one
 * index seek each from the last one found: a recursive statement, one round trip (start-reads.ts
 * sends it with the start's other reads).
 */
export const CONNECTOR_KEY_IDS_CTE = sql`
      with recursive ids(id) as (
        (select secret_key_id from connectors where secret_key_id > '' order by secret_key_id limit 1)
        union all
        select (select c.secret_key_id from connectors c where c.secret_key_id > ids.id
                order by c.secret_key_id limit 1)
        from ids where ids.id is not null
      )`;

/**
 * Ids of the master keys that sealed connectors' secrets, by index seeks (cheap on a million rows).
 * PostgreSQL: the same seeks in one recursive statement, one round trip instead of one per key id
 * plus one (issue 15: a server's start waits for each). SQLite has no round trips to save.
 */
export async function connectorKeyIds(db: Kysely<Database>): Promise<string[]> {
  if (dialectOf(db) === 'postgres') {
    const { rows } = await sql<{ id: string }>`${CONNECTOR_KEY_IDS_CTE}
      select id from ids where id is not null`.execute(db);
    return rows.map((row) => row.id);
  }
  const ids: string[] = [];
  let after = '';
  for (;;) {
    const row = await db
      .selectFrom('connectors')
      .select('secret_key_id')
      .where('secret_key_id', '>', after)
      .orderBy('secret_key_id')
      .limit(1)
      .executeTakeFirst();
    if (!row?.secret_key_id) return ids;
    ids.push(row.secret_key_id);
    after = row.secret_key_id;
  }
}

/**
 * Ids of the master keys that sealed the stored responses of live idempotency records (a day's
 * worth of creates at most; expired ones are pruned and never replayed).
 */
export async function recordKeyIds(db: Kysely<Database>, now = Date.now()): Promise<string[]> {
  const rows = await db
    .selectFrom('idempotency_keys')
    .select(sql<string>`substr(response, 1, ${sql.lit(MASTER_KEY_ID_LENGTH)})`.as('key_id'))
    .distinct()
    .where('state', '=', 'done')
    .where('response', 'is not', null)
    .where('created_at', '>=', new Date(now - IDEMPOTENCY_TTL_MS).toISOString())
    .execute();
  return rows.map((row) => row.key_id).sort();
}

/** What a start checks the master keys against, read once: the key ids in use and the sealed hash key. */
export interface StoredKeys {
  /** Ids of the master keys that sealed connectors' secrets (connectorKeyIds). */
  readonly connectorKeyIds: readonly string[];
  /** Ids of the master keys that anything stored still needs, sorted (keyIdsInUse). */
  readonly inUse: readonly string[];
  /** The sealed hash key, if the database has one yet. */
  readonly hashKey: StoredHashKey | undefined;
}

/**
 * The three reads at once: on PostgreSQL each on a pool connection of its own, one round trip
 * where they took one after another (issue 15).
 */
export async function readStoredKeys(db: Kysely<Database>): Promise<StoredKeys> {
  const [hashKey, connectors, records] = await Promise.all([
    readHashKey(db),
    connectorKeyIds(db),
    recordKeyIds(db),
  ]);
  const ids = new Set([...connectors, ...records, ...(hashKey === undefined ? [] : [hashKey.masterKeyId])]);
  return { connectorKeyIds: connectors, inUse: [...ids].sort(), hashKey };
}

/** Ids of the master keys that anything stored still needs: connectors' secrets, idempotent responses, the hash key. */
export async function keyIdsInUse(db: Kysely<Database>): Promise<string[]> {
  return [...(await readStoredKeys(db)).inUse];
}
