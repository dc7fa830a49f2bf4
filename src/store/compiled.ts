import type { CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './schema.js';

/**
 * A read run at once on a database's connection, synchronously, without Kysely's executor (its
 * connection mutex, driver and plugin steps are a chain of promises per query). Undefined when it
 * cannot run so now, and the query then goes the usual way: see openSqlite's `readNow`. With
 * `firstColumn`, each row is its first column's value alone, not an object of its columns.
 */
export type ReadNow = (
  sql: string,
  parameters: readonly unknown[],
  firstColumn?: boolean,
) => unknown[] | undefined;

/** By the Kysely instance they read for (never a transaction's: those go the usual way). */
const readers = new WeakMap<Kysely<Database>, ReadNow>();

export function readNowOn(db: Kysely<Database>, read: ReadNow): void {
  readers.set(db, read);
}

/**
 * A stamp of what other connections committed, read at once, synchronously: equal stamps read from
 * one connection mean that no other connection (another process's, another thread's) committed in
 * between (nor did this connection migrate: ownSchemaChanged). This connection's own writes do not move it: each change
 * of a connector row it makes is reported as it is made (onOwnConnectorChange), so what is kept
 * with a stamp must also be dropped on those reports. Undefined where it cannot be read so now
 * (PostgreSQL, a transaction open on the connection, a lock): then nothing may be taken as unchanged.
 */
export type StampNow = () => string | undefined;

/** By the Kysely instance they stamp for. */
const stampers = new WeakMap<Kysely<Database>, StampNow>();

/**
 * A read run at once (as ReadNow) together with the database's stamp (as StampNow) of the very
 * snapshot the rows come from: one statement, one read transaction, where the stamp and then the
 * read were two (each a read transaction of its own: two file locks taken and released, and an
 * fstat; ~4 µs of a ~14 µs read of one connector on SQLite). The stamp is undefined where there is
 * none (StampNow's undefined); the whole is undefined where the read cannot run now (ReadNow's).
 */
export type StampedReadNow = (
  sql: string,
  parameters: readonly unknown[],
) => { readonly rows: unknown[]; readonly stamp: string | undefined } | undefined;

/** By the Kysely instance they read for. */
const stampedReaders = new WeakMap<Kysely<Database>, StampedReadNow>();

export function stampedReadNowOn(db: Kysely<Database>, read: StampedReadNow): void {
  stampedReaders.set(db, read);
}

export function stampNowOn(db: Kysely<Database>, stamp: StampNow): void {
  stampers.set(db, stamp);
}

/** The database's stamp at once (StampNow); undefined where it has none now. */
export function stampNow(db: Kysely<Database>): string | undefined {
  return stampers.get(db)?.();
}

/**
 * A connector row this connection inserted, updated or deleted: its account, id and seq (as stored;
 * an update reports the row before and, when any of the three changed, after). Reported inside the
 * statement that made the change (a TEMP trigger calling back into JavaScript, sqlite-database.ts),
 * whatever code made it, committed or later rolled back. A listener must not use the database nor
 * throw (a throw is caught and counted as a change of everything: see ownChangeReporter).
 */
export type OwnConnectorChange = (accountId: number, id: string, seq: number) => void;

/** By the Kysely instance whose connection reports its own changes: adds a listener. */
const ownChangeReporters = new WeakMap<Kysely<Database>, (listener: OwnConnectorChange) => void>();

export function ownConnectorChangesOn(
  db: Kysely<Database>,
  add: (listener: OwnConnectorChange) => void,
): void {
  ownChangeReporters.set(db, add);
}

/** By the Kysely instance: what to do after this connection changed the schema (migrations). */
const schemaChangeHandlers = new WeakMap<Kysely<Database>, () => void>();

export function onOwnSchemaChangeOn(db: Kysely<Database>, handler: () => void): void {
  schemaChangeHandlers.set(db, handler);
}

/**
 * Says that `db`'s connection may have changed the schema (migrateToLatest calls it after
 * migrating): a table made again loses this connection's triggers that report its own changes, and
 * they are made again; what was kept before is no longer taken as unchanged (the stamp moves).
 * DDL run on the connection any other way is not seen: nothing in the server runs any.
 */
export function ownSchemaChanged(db: Kysely<Database>): void {
  schemaChangeHandlers.get(db)?.();
}

/**
 * Calls `listener` on every change of a connector row `db`'s connection makes from now on; false,
 * and nothing is called, where the connection does not report them (PostgreSQL): then nothing may
 * be kept with its stamp (stampNow), which its own writes would not move.
 */
export function onOwnConnectorChange(db: Kysely<Database>, listener: OwnConnectorChange): boolean {
  const add = ownChangeReporters.get(db);
  if (!add) return false;
  add(listener);
  return true;
}

/**
 * Any statement run at once on a connection whose holder has a transaction open on it (a SQLite
 * write group's, group-commit.ts): nothing else can use the connection meanwhile, so the
 * statement needs neither Kysely's mutex nor its promise chain.
 */
export type RunNow = <R>(query: CompiledQuery) => QueryResult<R>;

/** By the Kysely instance of the held connection, while it is held. */
const runners = new WeakMap<Kysely<Database>, RunNow>();

/** Until `forgetRunNow`, the compiled queries run on `db` go straight to `run`. */
export function runNowOn(db: Kysely<Database>, run: RunNow): void {
  runners.set(db, run);
}

export function forgetRunNow(db: Kysely<Database>): void {
  runners.delete(db);
}

/**
 * The SQL of every query compiled once, by text, with a name to prepare it under: PostgreSQL's
 * connections (database.ts) send these as named statements, parsed and planned once per
 * connection instead of on every run. Bounded: only queries compiled once are here.
 */
const statementNames = new Map<string, string>();

/** The name a query compiled once is prepared under, or undefined for any other SQL. */
export function statementNameOf(sql: string): string | undefined {
  return statementNames.get(sql);
}

/** The values of a compiled query's run: one for each of its stand-ins, in their order. */
export type ValuesOf<V extends readonly unknown[]> = { [K in keyof V]: unknown };

/** `returning *`, `select * from <table>` or `"table".*`: a result list that grows with the table. */
const STAR_OF_A_TABLE =
  /\breturning\s+\*|\bselect\s+(?:distinct\s+)?\*\s+from\s+"?[a-z_][a-z0-9_]*\b"?(?!\s*\()|"\.\*/i;

/**
 * A hot query built and compiled once, run with new values: Kysely builds, transforms and compiles
 * every query anew on each call (its `executeQuery`, `visitNode`, `freeze`, `cloneWithWhere` were
 * ~10 % of a GET). `build` makes the query with one distinct stand-in per value; each run puts the
 * values where the stand-ins ended up among the compiled parameters, whatever their order. Writes
 * too: on a SQLite write group's connection (runNowOn) they run at once; elsewhere (PostgreSQL, a
 * transaction of Kysely's) they go the usual way.
 */
export function compiledOnce<R, V extends readonly unknown[]>(
  compiled: CompiledQuery<R>,
  standIns: V,
): CompiledRead<R, V> {
  const slots = compiled.parameters.map((parameter) => {
    const slot = standIns.indexOf(parameter);
    if (slot < 0)
      throw new Error(
        `compiledOnce: the compiled query has a parameter that is no stand-in: ${String(parameter)}`,
      );
    return slot;
  });
  for (let slot = 0; slot < standIns.length; slot++) {
    if (!slots.includes(slot))
      throw new Error(
        `compiledOnce: stand-in ${String(standIns[slot])} is not among the compiled parameters`,
      );
  }
  // Named on PostgreSQL (a prepared statement per pooled connection): a `*` result list would
  // change type when a newer version's additive migration adds a column, and PostgreSQL refuses
  // the saved plan ("cached plan must not change result type") on every run of an older instance
  // during a rolling upgrade. Columns are named instead.
  // (A `*` over a function's rows, `select * from unnest($1, …)`, has the type its call gives.)
  if (STAR_OF_A_TABLE.test(compiled.sql))
    throw new Error(`compiledOnce: name the columns instead of *: ${compiled.sql}`);
  if (!statementNames.has(compiled.sql))
    statementNames.set(compiled.sql, `plugboard_${statementNames.size + 1}`);
  const run = (on: Kysely<Database>, ...values: ValuesOf<V>): Promise<QueryResult<R>> => {
    const parameters = slots.map((slot) => values[slot]);
    const runNow = runners.get(on);
    if (runNow) {
      try {
        return Promise.resolve(runNow<R>({ ...compiled, parameters }));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const readNow = readers.get(on);
    if (readNow) {
      try {
        const rows = readNow(compiled.sql, parameters);
        if (rows) return Promise.resolve({ rows: rows as R[] });
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return on.executeQuery<R>({ ...compiled, parameters });
  };
  return Object.assign(run, {
    now(on: Kysely<Database>, ...values: ValuesOf<V>): R[] | undefined {
      const rows = readers.get(on)?.(
        compiled.sql,
        slots.map((slot) => values[slot]),
      );
      return rows as R[] | undefined;
    },
    nowFirstColumn(on: Kysely<Database>, ...values: ValuesOf<V>): R[keyof R][] | undefined {
      const read = readers.get(on)?.(
        compiled.sql,
        slots.map((slot) => values[slot]),
        true,
      );
      return read as R[keyof R][] | undefined;
    },
    nowStamped(
      on: Kysely<Database>,
      ...values: ValuesOf<V>
    ): { readonly rows: R[]; readonly stamp: string | undefined } | undefined {
      const read = stampedReaders.get(on);
      const parameters = slots.map((slot) => values[slot]);
      if (read) return read(compiled.sql, parameters) as { rows: R[]; stamp: string | undefined } | undefined;
      const rows = readers.get(on)?.(compiled.sql, parameters);
      return rows && { rows: rows as R[], stamp: undefined };
    },
  });
}

/** A hot read compiled once (compiledOnce): run the usual way, or `now`. */
export interface CompiledRead<R, V extends readonly unknown[]> {
  (on: Kysely<Database>, ...values: ValuesOf<V>): Promise<QueryResult<R>>;
  /**
   * The rows at once, synchronously, where the database can read so now (SQLite with no transaction
   * open: see ReadNow); undefined where it cannot, and the caller goes the usual way. Throws what
   * the read throws.
   */
  now(on: Kysely<Database>, ...values: ValuesOf<V>): R[] | undefined;
  /**
   * `now` for a query of one column: each row's value alone. The rows of a page read as one text
   * each (connector-store.ts) came as an array of one value per row from better-sqlite3's raw mode,
   * then an object per row from it; as values alone (its pluck mode), neither is made.
   */
  nowFirstColumn(on: Kysely<Database>, ...values: ValuesOf<V>): R[keyof R][] | undefined;
  /**
   * `now`, with the database's stamp (StampNow) of the snapshot the rows were read in
   * (StampedReadNow); the stamp undefined where the database has none.
   */
  nowStamped(
    on: Kysely<Database>,
    ...values: ValuesOf<V>
  ): { readonly rows: R[]; readonly stamp: string | undefined } | undefined;
}
