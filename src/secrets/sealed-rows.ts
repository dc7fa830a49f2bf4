import { type Kysely, sql } from 'kysely';
import { IDEMPOTENCY_TTL_MS } from '../store/idempotency-store.js';
import type { Database } from '../store/schema.js';
import { MASTER_KEY_ID_LENGTH } from './cipher.js';

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
