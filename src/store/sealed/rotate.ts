import { statSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { generateMasterKey, type MasterKey, MasterKeyError } from '../../secrets/cipher.js';
import { KEY_FILE_CHECK_MS, type KeyringSource, writeKeyFile } from '../../secrets/keyring.js';
import { createSecretBox } from '../../secrets/secret-box.js';
import type { Database } from '../schema.js';
import { hashKeyMasterKeyId, resealHashKey, verifyHashKey } from './hash-key.js';
import { proveSealedUnder } from './prove.js';
import { pause, resealPass } from './reseal.js';
import { countNotUnder, forgetDeadRecords, keyIdsInUse, type SealedKind } from './rows.js';

export interface RotationProgress {
  readonly kind: SealedKind;
  readonly done: number;
  readonly total: number;
}

export interface RotationReport {
  /** The key every secret is sealed with now. */
  readonly keyId: string;
  /** Whether this run made a new key (key file) rather than resuming or using PLUGBOARD_MASTER_KEY. */
  readonly newKey: boolean;
  /** Connectors re-sealed by this run. */
  readonly resealed: number;
  /** Connectors with secrets, every one proven to open under `keyId`. */
  readonly verified: number;
  readonly resealedRecords: number;
  /** Idempotency records, every one proven to open under `keyId`. */
  readonly verifiedRecords: number;
  /** Idempotency records deleted: expired, or opened by no configured key (they could never be replayed). */
  readonly forgottenRecords: number;
  /** Whether this run re-sealed the hash key of the API keys (it stays the same key: no stored hash changes). */
  readonly resealedHashKey: boolean;
  /**
   * The older keys nothing is sealed with any more: removed from the key file; with
   * PLUGBOARD_MASTER_KEY, the ones PLUGBOARD_PREVIOUS_MASTER_KEYS no longer needs.
   */
  readonly retiredKeyIds: readonly string[];
}

export interface RotationOptions {
  /** Rows per batch (per short write transaction). */
  readonly batchSize?: number;
  /** The pause between batches, so that servers' writes get the SQLite write lock in between. */
  readonly pauseMs?: number;
  readonly onProgress?: (progress: RotationProgress) => void;
  /** How long after the key changed no server can seal with an older key any more (SETTLE_MS). */
  readonly settleMs?: number;
}

/**
 * A running server re-reads its key file at most KEY_FILE_CHECK_MS after the file changed, and
 * always before it seals (keyring.ts: `current()` checks the file when KEY_FILE_CHECK_MS have
 * passed since its last check). So a value sealed later than KEY_FILE_CHECK_MS after the new key
 * file was written is sealed with the new key. The extra second covers a write sealed just
 * before that moment and committed just after it.
 */
export const SETTLE_MS = KEY_FILE_CHECK_MS + 1_000;
/** Re-seal passes after the settle time before giving up on a server that keeps using an older key. */
const MAX_ROUNDS = 5;

/** Writes the key file without the keys other than `primary`; returns their ids. Leaves a file another run changed alone. */
function retireOlderKeys(source: KeyringSource, primary: MasterKey): string[] {
  const keyring = source.reload();
  const older = keyring.keys.filter((key) => key.id !== primary.id).map((key) => key.id);
  if (source.file === undefined || older.length === 0) return older;
  if (keyring.primary.id !== primary.id) return [];
  writeKeyFile(source.file, [keyring.primary]);
  source.reload();
  return older;
}

/**
 * `plugboard secrets rotate`: re-seals every connector's secrets, every idempotency record and the
 * hash key of the API keys under the primary key while servers keep running (they still open the
 * older keys), proves that each one opens under it, then retires the older keys.
 *
 * With a key file and nothing left to re-seal, it first makes a new primary key (the old one
 * stays in the file for reading until the end). Resumable: a run killed at any point leaves every
 * row sealed under one of the keys in the file, and the next run carries on with the rows not yet
 * under the primary.
 *
 * Running servers may seal a write with an older key until they have seen the new one: for
 * SETTLE_MS after the key file changed (see there), or, with PLUGBOARD_MASTER_KEY, as long as a
 * server still runs with the old key as its primary (every server must be restarted with the new
 * key first; one that was not shows up as rows sealed with the old key again). So after the
 * first pass it waits until then, re-seals what appeared, and only proves and retires once a pass
 * finds nothing, up to MAX_ROUNDS times SETTLE_MS.
 */
export async function rotateSecrets(
  db: Kysely<Database>,
  source: KeyringSource,
  { batchSize = 50, pauseMs = 10, onProgress, settleMs = SETTLE_MS }: RotationOptions = {},
): Promise<RotationReport> {
  const startedAt = Date.now();
  let keyring = source.reload();
  let forgottenRecords = await forgetDeadRecords(
    db,
    keyring.keys.map((key) => key.id),
  );
  let changedAt = startedAt;
  let newKey = false;
  const left = await countNotUnder(db, keyring.primary.id);
  const hashKeyUnder = await hashKeyMasterKeyId(db);
  const leftInAll =
    left.connectors +
    left['idempotency records'] +
    (hashKeyUnder === undefined || hashKeyUnder === keyring.primary.id ? 0 : 1);
  // Nothing left, but older keys still there: a run interrupted after it re-sealed everything
  // (while it waited for the servers, proved or retired). Carry on with those steps, no new key.
  const interrupted = leftInAll === 0 && keyring.keys.length > 1;
  if (leftInAll === 0 && !interrupted) {
    if (source.file === undefined) {
      throw new MasterKeyError(
        'every secret is already sealed with PLUGBOARD_MASTER_KEY; to rotate, set PLUGBOARD_MASTER_KEY to a new key ' +
          'and PLUGBOARD_PREVIOUS_MASTER_KEYS to the current one (on the servers too), then run this again',
      );
    }
    writeKeyFile(source.file, [generateMasterKey(), ...keyring.keys]);
    keyring = source.reload();
    changedAt = Date.now();
    newKey = true;
  } else if (source.file !== undefined) {
    // Resuming: the servers have had since the file was written to see its primary key.
    changedAt = Math.min(startedAt, statSync(source.file).mtimeMs);
  }
  const primary = keyring.primary;
  const box = createSecretBox(source);

  const done: Record<SealedKind, number> = { connectors: 0, 'idempotency records': 0 };
  let resealedHashKey = false;
  const pass = async (): Promise<number> => {
    // The hash key first: one small row, and no API key works without it.
    const hashKeyFound = await resealHashKey(db, source);
    resealedHashKey ||= hashKeyFound;
    const remaining = await countNotUnder(db, primary.id);
    const before = { ...done };
    const counts = await resealPass(db, box, primary.id, {
      batchSize,
      pauseMs,
      onBatch: (kind, resealed) => {
        done[kind] = before[kind] + resealed;
        onProgress?.({ kind, done: done[kind], total: before[kind] + remaining[kind] });
      },
    });
    forgottenRecords += counts.forgotten;
    return counts.found + (hashKeyFound ? 1 : 0);
  };

  await pass();
  let waitUntil = changedAt + settleMs;
  for (let round = 1; ; round++) {
    await pause(Math.min(settleMs, waitUntil - Date.now()));
    if ((await pass()) === 0) {
      const proof = await proveSealedUnder(db, box, primary.id, batchSize);
      forgottenRecords += proof.forgotten;
      await verifyHashKey(db, source);
      const inUse = await keyIdsInUse(db);
      if (proof.stragglers === 0 && inUse.every((id) => id === primary.id)) {
        return {
          keyId: primary.id,
          newKey,
          resealed: done.connectors,
          verified: proof.connectors,
          resealedRecords: done['idempotency records'],
          verifiedRecords: proof.records,
          forgottenRecords,
          resealedHashKey,
          retiredKeyIds: retireOlderKeys(source, primary),
        };
      }
    }
    if (round >= MAX_ROUNDS) {
      const still = await countNotUnder(db, primary.id);
      throw new MasterKeyError(
        `${still.connectors} connector(s) and ${still['idempotency records']} idempotency record(s) were sealed ` +
          `with an older key again after ${MAX_ROUNDS} re-sealing rounds: a server still seals with it. ` +
          `Make sure every server reads ${source.description} (restart the ones that do not hold key ${primary.id}), ` +
          'then run this again',
      );
    }
    waitUntil = Date.now() + settleMs;
  }
}
