import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Runs `work` in a write transaction and resolves once that transaction is durable (committed);
 * rejects with what `work` threw, or with the error that kept the transaction from committing.
 * SQLite's handle groups concurrent writes into one transaction (group-commit.ts).
 */
export type Transact = <T>(work: (trx: Kysely<Database>) => Promise<T>) => Promise<T>;

/** One transaction per call: PostgreSQL's (and any database's) plain way. */
export function ownTransactions(db: Kysely<Database>): Transact {
  return (work) => db.transaction().execute(work);
}
