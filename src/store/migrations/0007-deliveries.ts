import { type Kysely, sql } from 'kysely';
import { autoIncrementKey } from '../dialect.js';

/** Pending (queued, sending, retrying): the partial indexes cover only these rows, which queries name by the same term. */
const PENDING = sql<boolean>`finished_at is null`;

/**
 * Deliveries (issue 12): one row per accepted event for a connector, its attempts, and the ticket
 * each (connector, alertKey) has at a ticket target. A delivery is queued in the transaction that
 * answers 202; the worker claims it (`sending`, with a lease), and records each attempt.
 *
 * Deliveries keep the connector's id but no foreign key: deleting a connector cancels its pending
 * deliveries and keeps their history (until retention prunes it). Timestamps are ISO 8601 UTC
 * text, which orders as time on both backends.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const key = autoIncrementKey(db);
  await db.schema
    .createTable('deliveries')
    .addColumn('seq', key.type, key.build)
    .addColumn('id', 'text', (col) => col.notNull().unique())
    .addColumn('account_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('connector_id', 'text', (col) => col.notNull())
    .addColumn('connector_type', 'text', (col) => col.notNull())
    .addColumn('event', 'text', (col) => col.notNull())
    .addColumn('options', 'text', (col) => col.notNull())
    .addColumn('alert_key', 'text')
    .addColumn('state', 'text', (col) =>
      col
        .notNull()
        .check(sql`state in ('queued', 'sending', 'retrying', 'delivered', 'failed', 'cancelled')`),
    )
    .addColumn('attempt_count', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('external_ref', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  // Lists, newest first, per account.
  await db.schema
    .createIndex('deliveries_account_seq')
    .on('deliveries')
    .columns(['account_id', 'seq'])
    .execute();
  // The worker's claims (per connector, oldest first) and the order per alertKey; only pending rows.
  await db.schema
    .createIndex('deliveries_pending_connector')
    .on('deliveries')
    .columns(['connector_id', 'seq'])
    .where(PENDING)
    .execute();
  await db.schema
    .createIndex('deliveries_pending_key')
    .on('deliveries')
    .columns(['connector_id', 'alert_key', 'seq'])
    .where(PENDING)
    .execute();
  // The queue cap per account.
  await db.schema
    .createIndex('deliveries_pending_account')
    .on('deliveries')
    .column('account_id')
    .where(PENDING)
    .execute();
  // Retention pruning.
  await db.schema.createIndex('deliveries_finished').on('deliveries').column('finished_at').execute();

  await db.schema
    .createTable('delivery_attempts')
    .addColumn('delivery_id', 'text', (col) => col.notNull())
    .addColumn('number', 'integer', (col) => col.notNull())
    .addColumn('started_at', 'text', (col) => col.notNull())
    .addColumn('duration_ms', 'integer', (col) => col.notNull())
    .addColumn('http_status', 'integer')
    .addColumn('outcome', 'text', (col) =>
      col.notNull().check(sql`outcome in ('delivered', 'retry', 'failed', 'interrupted')`),
    )
    .addColumn('message', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('delivery_attempts_pk', ['delivery_id', 'number'])
    .execute();

  await db.schema
    .createTable('delivery_tickets')
    .addColumn('connector_id', 'text', (col) => col.notNull())
    .addColumn('alert_key', 'text', (col) => col.notNull())
    .addColumn('account_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('ticket_id', 'text', (col) => col.notNull())
    .addColumn('url', 'text')
    .addColumn('open', 'integer', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('delivery_tickets_pk', ['connector_id', 'alert_key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('delivery_tickets').execute();
  await db.schema.dropTable('delivery_attempts').execute();
  await db.schema.dropTable('deliveries').execute();
}
