import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Runs `work` in a write transaction and resolves once that transaction is durable (committed);
 * rejects with what `work` threw, or with the error that kept the transaction from committing.
 * (Group commit for SQLite was built behind this type and taken out again: a write queued behind a
 * group that gave up on another process's lock waited past the 5 s lock wait; see issue 15's note.)
 */
export type Transact = <T>(work: (trx: Kysely<Database>) => Promise<T>) => Promise<T>;

/** One transaction per call: PostgreSQL's (and any database's) plain way. */
export function ownTransactions(db: Kysely<Database>): Transact {
  return (work) => db.transaction().execute(work);
}
