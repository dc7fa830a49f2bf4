import { type Kysely, sql } from 'kysely';

const COLUMNS = ['account_id', 'key', 'request_hash', 'state', 'response_status', 'response', 'created_at'];

/** The idempotency table with the given primary key columns (built new: SQLite cannot change a primary key). */
async function createTable(
  db: Kysely<unknown>,
  name: string,
  primaryKey: string,
  columns: string[],
): Promise<void> {
  let table = db.schema
    .createTable(name)
    .addColumn('account_id', 'integer', (col) => col.notNull().references('accounts.id'))
    .addColumn('key', 'text', (col) => col.notNull())
    .addColumn('request_hash', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull().check(sql`state in ('running', 'done')`))
    .addColumn('response_status', 'integer')
    .addColumn('response', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull());
  if (columns.includes('api_key_id')) {
    table = table.addColumn('api_key_id', 'text', (col) => col.notNull().defaultTo(''));
  }
  await table.addPrimaryKeyConstraint(primaryKey, columns as never).execute();
}

/**
 * Idempotency-Key records belong to the API key that made them (issue 11, finding 3): another key
 * of the account using the same Idempotency-Key gets a record of its own, never a replay of the
 * first response nor a 422 that tells it the first body differs (which confirmed guessed secrets).
 * Existing records get `api_key_id` '' (not yet known); the server binds each to the key that made
 * it when it starts (the audit trail names the key that created the connector), and until then no
 * key replays them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'idempotency_keys_by_api_key', 'idempotency_keys_owner_pk', [
    'account_id',
    'api_key_id',
    'key',
  ]);
  const columns = sql.join(COLUMNS.map((name) => sql.ref(name)));
  await sql`insert into idempotency_keys_by_api_key (${columns}, api_key_id)
    select ${columns}, '' from idempotency_keys`.execute(db);
  await db.schema.dropTable('idempotency_keys').execute();
  await db.schema.alterTable('idempotency_keys_by_api_key').renameTo('idempotency_keys').execute();
  await db.schema
    .createIndex('idempotency_keys_created')
    .on('idempotency_keys')
    .column('created_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await createTable(db, 'idempotency_keys_by_key', 'idempotency_keys_pk', ['account_id', 'key']);
  const columns = sql.join(COLUMNS.map((name) => sql.ref(name)));
  // One record per account and key: the one of the smallest API key id.
  await sql`insert into idempotency_keys_by_key (${columns})
    select ${columns} from idempotency_keys as n
    where n.api_key_id = (select min(m.api_key_id) from idempotency_keys as m
                          where m.account_id = n.account_id and m.key = n.key)`.execute(db);
  await db.schema.dropTable('idempotency_keys').execute();
  await db.schema.alterTable('idempotency_keys_by_key').renameTo('idempotency_keys').execute();
  await db.schema
    .createIndex('idempotency_keys_created')
    .on('idempotency_keys')
    .column('created_at')
    .execute();
}
