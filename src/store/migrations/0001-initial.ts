import { type Kysely, sql } from 'kysely';
import { autoIncrementKey } from '../dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const key = autoIncrementKey(db);
  await db.schema
    .createTable('accounts')
    .addColumn('id', key.type, key.build)
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('role', 'text', (col) => col.notNull().check(sql`role in ('read', 'write')`))
    .addColumn('label', 'text', (col) => col.notNull())
    .addColumn('key_hash', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('expires_at', 'text')
    .execute();

  await db.schema
    .createTable('connectors')
    .addColumn('seq', key.type, key.build)
    .addColumn('id', 'text', (col) => col.notNull().unique())
    .addColumn('account_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('params', 'text', (col) => col.notNull())
    .addColumn('secrets', 'text')
    .addColumn('secret_key_id', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .addUniqueConstraint('connectors_account_name_unique', ['account_id', 'name'])
    .execute();

  await db.schema
    .createIndex('connectors_account_seq')
    .on('connectors')
    .columns(['account_id', 'seq'])
    .execute();
  await db.schema.createIndex('connectors_secret_key').on('connectors').column('secret_key_id').execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', key.type, key.build)
    .addColumn('id', 'text', (col) => col.notNull().unique())
    .addColumn('account_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('action', 'text', (col) => col.notNull().check(sql`action in ('create', 'update', 'delete')`))
    .addColumn('connector_id', 'text', (col) => col.notNull())
    .addColumn('connector_name', 'text', (col) => col.notNull())
    .addColumn('connector_type', 'text', (col) => col.notNull())
    .addColumn('key_id', 'text', (col) => col.notNull())
    .addColumn('key_label', 'text', (col) => col.notNull())
    .addColumn('fields', 'text', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('audit_events_account_seq')
    .on('audit_events')
    .columns(['account_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
  await db.schema.dropTable('connectors').execute();
  await db.schema.dropTable('api_keys').execute();
  await db.schema.dropTable('accounts').execute();
}
