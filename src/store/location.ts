import { AppError } from '../errors.js';

export const DEFAULT_DATABASE_URL = 'sqlite:./data/plugboard.db';

export type DatabaseLocation = { readonly kind: 'sqlite'; readonly path: string };

/** Raised for a DATABASE_URL that cannot be used; the message says what to set instead. */
export class DatabaseUrlError extends AppError {
  constructor(message: string) {
    super(500, 'INVALID_DATABASE_URL', message);
    this.name = 'DatabaseUrlError';
  }
}

/**
 * Reads DATABASE_URL: `sqlite:PATH` (relative to the working directory; `sqlite::memory:` for
 * a throw-away database). PostgreSQL is refused until its backend lands. Messages never
 * repeat the URL, which may hold a password.
 */
export function parseDatabaseUrl(url: string | undefined): DatabaseLocation {
  const value = url === undefined || url === '' ? DEFAULT_DATABASE_URL : url;
  if (/^postgres(ql)?:\/\//i.test(value)) {
    throw new DatabaseUrlError(
      'DATABASE_URL points at PostgreSQL, which this version of Plugboard does not support yet. ' +
        `Unset DATABASE_URL to use the embedded SQLite database (${DEFAULT_DATABASE_URL}), or set it to sqlite:PATH.`,
    );
  }
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '')
      throw new DatabaseUrlError('DATABASE_URL=sqlite: needs a file path, e.g. sqlite:./data/plugboard.db');
    return { kind: 'sqlite', path };
  }
  throw new DatabaseUrlError(
    `DATABASE_URL must start with sqlite: (e.g. ${DEFAULT_DATABASE_URL}); other databases are not supported yet`,
  );
}
