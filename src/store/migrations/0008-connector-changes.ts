import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect.js';

/**
 * PostgreSQL: every change to a connector row, whoever makes it (this version's store, an older
 * server in a rolling upgrade, `plugboard keys rotate`, an operator's SQL), notifies channel
 * `plugboard_connectors` in its own transaction, which PostgreSQL delivers on commit. Servers keep
 * the connectors they read and drop one when its notice arrives (src/store/connector-changes.ts).
 * The payload is JSON: the schema (the channel is per database), the account and the id; a
 * TRUNCATE sends no account (everything in the schema changed). An insert notifies nothing: no
 * server keeps a connector it could not read. SQLite: nothing here; a server there tells other
 * connections' commits by `pragma data_version` and its own by TEMP triggers (sqlite-database.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`
    create function plugboard_connector_changed() returns trigger language plpgsql as $$
    begin
      if tg_op = 'TRUNCATE' then
        perform pg_notify('plugboard_connectors', json_build_object('schema', tg_table_schema)::text);
      else
        perform pg_notify(
          'plugboard_connectors',
          json_build_object('schema', tg_table_schema, 'account', old.account_id, 'id', old.id)::text
        );
      end if;
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger connector_changed after update or delete on connectors
    for each row execute function plugboard_connector_changed()`.execute(db);
  await sql`
    create trigger connectors_truncated after truncate on connectors
    for each statement execute function plugboard_connector_changed()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`drop trigger connectors_truncated on connectors`.execute(db);
  await sql`drop trigger connector_changed on connectors`.execute(db);
  await sql`drop function plugboard_connector_changed()`.execute(db);
}
