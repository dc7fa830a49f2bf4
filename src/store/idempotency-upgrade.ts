import type { Kysely } from 'kysely';
import { type Hashing, KEYED_PREFIX } from '../secrets/hash-key.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { storedResponse } from './idempotency-store.js';
import type { Database } from './schema.js';
import type { UpgradeCandidates } from './sealed/start-reads.js';

export interface RecordUpgrade {
  /** Records whose unkeyed fingerprint was rewritten keyed. */
  readonly keyed: number;
  /** Records of the time before records had an owner, bound to the API key that made them. */
  readonly bound: number;
  /** Such records whose key could not be found (or that no master key opens): deleted, like expired ones. */
  readonly forgotten: number;
}

/**
 * Brings the records stored by versions before keyed fingerprints and owners up to date, once at
 * start (they expire within a day anyway): an unkeyed fingerprint is rewritten keyed (from the
 * digest itself: the body is not needed), and a record without an owner is bound to the API key
 * that made it: the one the audit trail names for the creation of the connector in its response
 * (recorded in the same transaction). A record whose response no configured master key opens, or
 * whose creation has no audit event, is deleted. Every change is compare-and-set: servers starting
 * together do each record once.
 */
export async function upgradeStoredRecords(
  db: Kysely<Database>,
  box: SecretBox,
  hashing: Hashing,
  /** The two reads below, made already (readStartState, PostgreSQL). */
  known?: Pick<UpgradeCandidates, 'unkeyedRecords' | 'unownedRecords'>,
): Promise<RecordUpgrade> {
  let keyed = 0;
  let bound = 0;
  let forgotten = 0;
  // Both reads at once (on PostgreSQL one round trip, issue 15): the rewrites of the first touch
  // only request_hash, which the second neither selects nor filters on.
  const [unkeyed, unowned] = known
    ? [known.unkeyedRecords, known.unownedRecords]
    : await Promise.all([
        db
          .selectFrom('idempotency_keys')
          .select(['account_id', 'api_key_id', 'key', 'request_hash'])
          .where('request_hash', 'not like', `${KEYED_PREFIX}%`)
          .execute(),
        db
          .selectFrom('idempotency_keys')
          .select(['account_id', 'key', 'response'])
          .where('api_key_id', '=', '')
          .execute(),
      ]);
  for (const row of unkeyed) {
    const result = await db
      .updateTable('idempotency_keys')
      .set({ request_hash: hashing.fingerprint(row.request_hash) })
      .where('account_id', '=', row.account_id)
      .where('api_key_id', '=', row.api_key_id)
      .where('key', '=', row.key)
      .where('request_hash', '=', row.request_hash)
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) keyed++;
  }

  for (const row of unowned) {
    let owner: string | undefined;
    try {
      const body =
        row.response === null ? undefined : storedResponse.open(box, row.account_id, row.key, row.response);
      const connectorId =
        typeof body === 'object' && body !== null && 'id' in body && typeof body.id === 'string'
          ? body.id
          : undefined;
      const created =
        connectorId === undefined
          ? undefined
          : await db
              .selectFrom('audit_events')
              .select('key_id')
              .where('account_id', '=', row.account_id)
              .where('connector_id', '=', connectorId)
              .where('action', '=', 'create')
              .executeTakeFirst();
      owner = created?.key_id;
    } catch {
      owner = undefined;
    }
    const taken =
      owner !== undefined &&
      (await db
        .selectFrom('idempotency_keys')
        .select('key')
        .where('account_id', '=', row.account_id)
        .where('api_key_id', '=', owner)
        .where('key', '=', row.key)
        .executeTakeFirst()) !== undefined;
    if (owner === undefined || taken) {
      const result = await db
        .deleteFrom('idempotency_keys')
        .where('account_id', '=', row.account_id)
        .where('api_key_id', '=', '')
        .where('key', '=', row.key)
        .executeTakeFirst();
      if (result.numDeletedRows > 0n) forgotten++;
      continue;
    }
    const result = await db
      .updateTable('idempotency_keys')
      .set({ api_key_id: owner })
      .where('account_id', '=', row.account_id)
      .where('api_key_id', '=', '')
      .where('key', '=', row.key)
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) bound++;
  }
  return { keyed, bound, forgotten };
}
