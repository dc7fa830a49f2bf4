import type { Migration } from 'kysely';
import * as initial from './0001-initial.js';
import * as lastCheck from './0002-last-check.js';
import * as idempotencyKeys from './0003-idempotency-keys.js';
import * as connectorsVersion from './0004-connectors-version.js';
import * as idempotencyOwner from './0005-idempotency-owner.js';
import * as hashKey from './0006-hash-key.js';
import * as deliveries from './0007-deliveries.js';
import * as connectorChanges from './0008-connector-changes.js';
import * as connectorsVersionShards from './0009-connectors-version-shards.js';

/** Every migration, by name; names sort in the order they apply. Never edit one that has shipped. */
export const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-last-check': lastCheck,
  '0003-idempotency-keys': idempotencyKeys,
  '0004-connectors-version': connectorsVersion,
  '0005-idempotency-owner': idempotencyOwner,
  '0006-hash-key': hashKey,
  '0007-deliveries': deliveries,
  '0008-connector-changes': connectorChanges,
  '0009-connectors-version-shards': connectorsVersionShards,
};
