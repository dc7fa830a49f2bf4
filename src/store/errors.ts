/** Classifies errors of the database driver, so that callers never match on driver strings. */
function driverCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  const code = driverCode(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const unavailableCodes = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOTADB|CORRUPT)/;

/** Errors that mean "the database cannot serve right now" rather than a bug: answered with 503. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = driverCode(error);
  if (code !== undefined && unavailableCodes.test(code)) return true;
  // better-sqlite3 on a closed handle; Kysely once the database has been closed (during shutdown).
  return (
    error instanceof Error &&
    /database connection is not open|driver has already been destroyed/i.test(error.message)
  );
}
