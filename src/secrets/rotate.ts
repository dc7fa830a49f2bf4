import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { generateMasterKey, MasterKeyError } from './cipher.js';
import { type KeyringSource, writeKeyFile } from './keyring.js';
import { createSecretBox } from './secret-box.js';

export interface RotationProgress {
  readonly done: number;
  readonly total: number;
}

export interface RotationReport {
  /** The key every secret is sealed with now. */
  readonly keyId: string;
  /** Whether this run made a new key (key file) rather than resuming or using PLUGBOARD_MASTER_KEY. */
  readonly newKey: boolean;
  readonly resealed: number;
  /** Connectors with secrets, every one proven to open under `keyId`. */
  readonly verified: number;
}

export interface RotationOptions {
  readonly batchSize?: number;
  readonly onProgress?: (progress: RotationProgress) => void;
  /** How long to wait for running servers to pick up a new key file before the last pass. */
  readonly settleMs?: number;
}

const MAX_PASSES = 5;

/** Connectors with sealed secrets in creation order, a batch at a time; only those not under `notUnder` if given. */
async function* sealedRows(db: Kysely<Database>, batchSize: number, notUnder?: string) {
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
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1]?.seq ?? after;
  }
}

async function countNotUnder(db: Kysely<Database>, keyId: string): Promise<number> {
  const row = await db
    .selectFrom('connectors')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('secret_key_id', 'is not', null)
    .where('secret_key_id', '!=', keyId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * `plugboard secrets rotate`: re-seals every connector's secrets under the primary key, in
 * batches, each batch one transaction, while servers keep running (they still open the old key).
 *
 * With a key file and nothing left to re-seal, it first makes a new primary key (the old one
 * stays in the file for reading). Resumable: a run interrupted half-way leaves every row sealed
 * under one of the keys, and the next run carries on with the rows not yet under the primary.
 * Ends by opening every connector's secrets under the primary key.
 */
export async function rotateSecrets(
  db: Kysely<Database>,
  source: KeyringSource,
  { batchSize = 500, onProgress, settleMs = 2_500 }: RotationOptions = {},
): Promise<RotationReport> {
  let keyring = source.reload();
  let newKey = false;
  if ((await countNotUnder(db, keyring.primary.id)) === 0) {
    if (source.file === undefined) {
      throw new MasterKeyError(
        'every secret is already sealed with PLUGBOARD_MASTER_KEY; to rotate, set PLUGBOARD_MASTER_KEY to a new key ' +
          'and PLUGBOARD_PREVIOUS_MASTER_KEYS to the current one (on the servers too), then run this again',
      );
    }
    writeKeyFile(source.file, [generateMasterKey(), ...keyring.keys]);
    keyring = source.reload();
    newKey = true;
  }
  const primary = keyring.primary;
  const box = createSecretBox(source);
  let resealed = 0;

  // A server that has not yet noticed a new key file may still seal a write with the old key;
  // later passes, after a pause, catch those rows.
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const total = resealed + (await countNotUnder(db, primary.id));
    if (total === resealed) break;
    if (pass > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
    for await (const rows of sealedRows(db, batchSize, primary.id)) {
      await db.transaction().execute(async (trx) => {
        for (const row of rows) {
          if (row.secrets === null || row.secret_key_id === null) continue;
          const secrets = box.open(row.id, row.type, { sealed: row.secrets, keyId: row.secret_key_id });
          const sealed = box.seal(row.id, row.type, secrets);
          // Only if nobody changed the row since it was read; a changed row is picked up again.
          const result = await trx
            .updateTable('connectors')
            .set({ secrets: sealed.sealed, secret_key_id: sealed.keyId })
            .where('seq', '=', row.seq)
            .where('secrets', '=', row.secrets)
            .executeTakeFirst();
          if (result.numUpdatedRows > 0n) resealed++;
        }
      });
      onProgress?.({ done: resealed, total });
    }
  }

  const left = await countNotUnder(db, primary.id);
  if (left > 0) {
    throw new MasterKeyError(
      `${left} connector(s) are still sealed with an older key (a server kept writing with it); ` +
        'make sure every server reads the same key file or PLUGBOARD_MASTER_KEY, then run this again',
    );
  }

  let verified = 0;
  for await (const rows of sealedRows(db, batchSize)) {
    for (const row of rows) {
      if (row.secrets === null) continue;
      if (row.secret_key_id !== primary.id) {
        throw new MasterKeyError(`connector ${row.id} is not sealed with key ${primary.id}; run this again`);
      }
      box.open(row.id, row.type, { sealed: row.secrets, keyId: primary.id });
      verified++;
    }
  }
  return { keyId: primary.id, newKey, resealed, verified };
}
