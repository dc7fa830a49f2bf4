import type { Kysely } from 'kysely';

/** The last credential check of each connector (JSON of the check result). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('connectors').addColumn('last_check', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('connectors').dropColumn('last_check').execute();
}
