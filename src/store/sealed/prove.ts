import type { Kysely } from 'kysely';
import type { SecretBox } from '../../secrets/secret-box.js';
import { storedResponse } from '../idempotency-store.js';
import type { Database } from '../schema.js';
import { pause, sameRecord, unopenable } from './reseal.js';
import { connectorBatches, recordBatches } from './rows.js';

export interface Proof {
  /** Connectors with secrets, each opened under the key. */
  connectors: number;
  /** Idempotency records, each opened under the key. */
  records: number;
  /** Values found under another key (written meanwhile by a server that still sealed with it). */
  stragglers: number;
  /** Idempotency records under the key that do not open (damaged): deleted. */
  forgotten: number;
}

/**
 * Opens every connector's secrets and every idempotency record under `keyId`. A connector that
 * is under `keyId` but does not open throws; a value under another key is counted, not opened,
 * for the caller to re-seal and prove again. Reads only (outside any transaction), a batch at a time.
 */
export async function proveSealedUnder(
  db: Kysely<Database>,
  box: SecretBox,
  keyId: string,
  batchSize: number,
): Promise<Proof> {
  const proof: Proof = { connectors: 0, records: 0, stragglers: 0, forgotten: 0 };
  for await (const batch of connectorBatches(db, batchSize)) {
    for (const row of batch) {
      if (row.keyId !== keyId) {
        proof.stragglers++;
        continue;
      }
      box.open(row.id, row.type, { sealed: row.secrets, keyId });
      proof.connectors++;
    }
    await pause(0);
  }
  for await (const batch of recordBatches(db, batchSize)) {
    for (const record of batch) {
      if (storedResponse.split(record.response).keyId !== keyId) {
        proof.stragglers++;
        continue;
      }
      try {
        storedResponse.open(box, record.accountId, record.key, record.response);
        proof.records++;
      } catch (error) {
        if (!unopenable(error)) throw error;
        const result = await db.deleteFrom('idempotency_keys').where(sameRecord(record)).executeTakeFirst();
        if (result.numDeletedRows > 0n) proof.forgotten++;
      }
    }
    await pause(0);
  }
  return proof;
}
