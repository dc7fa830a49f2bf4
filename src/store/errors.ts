/** Classifies errors of the database drivers, so that callers never match on driver strings. */
function driverCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** SQLite answered SQLITE_BUSY (or an extended BUSY code): another connection holds a lock. */
export function isLockBusy(error: unknown): boolean {
  return driverCode(error)?.startsWith('SQLITE_BUSY') === true;
}

/**
 * The unique name of a connector in its account refused the write: PostgreSQL names the
 * constraint, SQLite lists its columns. Any other unique violation (an id, a seq behind after a
 * restore) is a fault, not "name taken".
 */
export function isConnectorNameTaken(error: unknown): boolean {
  if (!isUniqueViolation(error) || typeof error !== 'object' || error === null) return false;
  if ('constraint' in error && error.constraint === 'connectors_account_name_unique') return true;
  return error instanceof Error && error.message.includes('connectors.account_id, connectors.name');
}

/** A unique or primary-key constraint refused the write (SQLite, or PostgreSQL's 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const code = driverCode(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

const sqliteUnavailable = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOTADB|CORRUPT)/;

/**
 * PostgreSQL SQLSTATE classes and codes that mean the database cannot serve now: connection
 * exceptions (08), insufficient resources (53: disk full, too many connections), operator
 * intervention (57: shutdown, restart, cancelled by statement_timeout), system errors (58),
 * serialization failures and deadlocks (40001, 40P01: a retry succeeds), lock timeouts (55P03),
 * a database not accepting connections (55000 during ALTER DATABASE … ALLOW_CONNECTIONS false),
 * a missing database (3D000) and read-only transactions on a replica (25006).
 */
const postgresUnavailable = /^(08|53|57|58)...$|^(40001|40P01|55P03|55000|3D000|25006)$/;

/** Node's socket errors, as the pg driver passes them on when the server is unreachable. */
const socketErrors = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Errors that mean "the database cannot serve right now" rather than a bug: answered with 503. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = driverCode(error);
  if (code !== undefined) {
    if (sqliteUnavailable.test(code) || postgresUnavailable.test(code) || socketErrors.has(code)) return true;
  }
  if (error instanceof AggregateError && error.errors.some(isDatabaseUnavailable)) return true;
  // better-sqlite3 on a closed handle; Kysely once the database has been closed (during shutdown);
  // pg when the pool waited too long for a connection, when the server closed the connection, or
  // when a query got no answer in time.
  return (
    error instanceof Error &&
    /database connection is not open|driver has already been destroyed|timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
      error.message,
    )
  );
}
