import type { Kysely } from 'kysely';

/**
 * A counter per account, raised in the same transaction by every create and delete of one of its
 * connectors: the positions of its connectors in creation order change only then. Servers keep
 * where pages ended (src/store/page-cursors.ts) and trust what they kept only while the counter
 * has not moved, so one server sees another's writes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('accounts')
    .addColumn('connectors_version', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('connectors_version').execute();
}
