import type { FastifyBaseLogger } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { Hashing } from '../secrets/hash-key.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { dialectOf } from './dialect.js';
import { upgradeStoredRecords } from './idempotency-upgrade.js';
import type { KeyStore } from './key-store.js';
import type { Database } from './schema.js';
import type { UpgradeCandidates } from './sealed/start-reads.js';

/**
 * At start: rewrites keyed what an earlier version stored unkeyed (API key hashes, Idempotency-Key
 * fingerprints) and binds the idempotency records of that time to the API key that made them, so
 * that a copy of the database taken from now on holds no unkeyed hash. Logged when it changed anything.
 */
export async function upgradeStoredHashes(
  db: Kysely<Database>,
  keys: KeyStore,
  box: SecretBox,
  hashing: Hashing,
  log: FastifyBaseLogger,
  /** What the upgrade reads first, read already with the start's other reads (readStartState, PostgreSQL). */
  known?: UpgradeCandidates,
): Promise<void> {
  // At once (on PostgreSQL on connections of their own, issue 15): different tables. Both are
  // waited for, so that a failure of one does not leave the other writing while the start fails.
  const [keysDone, recordsDone] = await Promise.allSettled([
    keys.keyUnkeyedHashes(known?.unkeyedApiKeys),
    upgradeStoredRecords(db, box, hashing, known),
  ]);
  if (keysDone.status === 'rejected') throw keysDone.reason;
  if (recordsDone.status === 'rejected') throw recordsDone.reason;
  const apiKeys = keysDone.value;
  const records = recordsDone.value;
  if (apiKeys + records.keyed + records.bound + records.forgotten > 0) {
    // On SQLite the replaced values are zeroed in their pages (secure_delete) but the WAL still
    // holds the old pages until it is checkpointed: do that now, and truncate it.
    if (dialectOf(db) === 'sqlite') await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
    log.info(
      {
        apiKeys,
        fingerprints: records.keyed,
        recordsBound: records.bound,
        recordsForgotten: records.forgotten,
      },
      'stored hashes rewritten as keyed hashes (and idempotency records of an earlier version bound to the API key that made them)',
    );
  }
}
