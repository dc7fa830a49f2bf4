import type { ExpressionBuilder, Kysely } from 'kysely';
import { DecryptionError } from '../../secrets/cipher.js';
import { type SecretBox, UnknownMasterKeyError } from '../../secrets/secret-box.js';
import { storedResponse } from '../idempotency-store.js';
import type { Database } from '../schema.js';
import { connectorBatches, recordBatches, type SealedKind, type SealedRecord } from './rows.js';

export interface ResealOptions {
  readonly batchSize: number;
  /** The pause after each batch, so that servers waiting for the write lock get it. */
  readonly pauseMs: number;
  /** After each batch: how many of `kind` this pass has re-sealed so far. */
  readonly onBatch?: (kind: SealedKind, resealed: number) => void;
}

export interface ResealCounts {
  /** Rows found under another key: re-sealed, changed meanwhile by a server, or forgotten. */
  found: number;
  connectors: number;
  records: number;
  /** Idempotency records that no configured key opens: deleted, as a server would on a retry. */
  forgotten: number;
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

/** The record, only while it still holds the response that was read (compare-and-set). */
export function sameRecord(record: SealedRecord) {
  return (eb: ExpressionBuilder<Database, 'idempotency_keys'>) =>
    eb.and([
      eb('account_id', '=', record.accountId),
      eb('api_key_id', '=', record.apiKeyId),
      eb('key', '=', record.key),
      eb('response', '=', record.response),
    ]);
}

/** A record that no configured key opens (its key was dropped, or it is damaged). */
export function unopenable(error: unknown): boolean {
  return error instanceof DecryptionError || error instanceof UnknownMasterKeyError;
}

/**
 * Re-seals under the primary key every connector's secrets and every idempotency record not
 * already under `primaryId`. Each batch is opened and sealed outside any transaction; then one
 * short transaction applies compare-and-set updates (only where the row still holds the
 * ciphertext that was read, so a server's concurrent write wins and is left alone), and the pass
 * pauses. So the SQLite write lock is held for a few milliseconds per batch, never during the
 * crypto, and servers' writes (and the reads queued behind them) get through between batches.
 * Each update is atomic: a run killed at any point leaves every row under one key or the other.
 */
export async function resealPass(
  db: Kysely<Database>,
  box: SecretBox,
  primaryId: string,
  { batchSize, pauseMs, onBatch }: ResealOptions,
): Promise<ResealCounts> {
  const counts: ResealCounts = { found: 0, connectors: 0, records: 0, forgotten: 0 };

  for await (const batch of connectorBatches(db, batchSize, primaryId)) {
    counts.found += batch.length;
    const changes = batch.map((row) => ({
      row,
      sealed: box.seal(
        row.id,
        row.type,
        box.open(row.id, row.type, { sealed: row.secrets, keyId: row.keyId }),
      ),
    }));
    await db.transaction().execute(async (trx) => {
      for (const { row, sealed } of changes) {
        const result = await trx
          .updateTable('connectors')
          .set({ secrets: sealed.sealed, secret_key_id: sealed.keyId })
          .where('seq', '=', row.seq)
          .where('secrets', '=', row.secrets)
          .executeTakeFirst();
        if (result.numUpdatedRows > 0n) counts.connectors++;
      }
    });
    onBatch?.('connectors', counts.connectors);
    await pause(pauseMs);
  }

  for await (const batch of recordBatches(db, batchSize, primaryId)) {
    counts.found += batch.length;
    const changes = batch.map((record) => {
      try {
        return {
          record,
          resealed: storedResponse.reseal(box, record.accountId, record.key, record.response),
        };
      } catch (error) {
        if (!unopenable(error)) throw error;
        return { record, resealed: undefined };
      }
    });
    await db.transaction().execute(async (trx) => {
      for (const { record, resealed } of changes) {
        if (resealed === undefined) {
          const result = await trx
            .deleteFrom('idempotency_keys')
            .where(sameRecord(record))
            .executeTakeFirst();
          if (result.numDeletedRows > 0n) counts.forgotten++;
        } else {
          const result = await trx
            .updateTable('idempotency_keys')
            .set({ response: resealed })
            .where(sameRecord(record))
            .executeTakeFirst();
          if (result.numUpdatedRows > 0n) counts.records++;
        }
      }
    });
    onBatch?.('idempotency records', counts.records);
    await pause(pauseMs);
  }
  return counts;
}
