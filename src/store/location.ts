export const DEFAULT_DATABASE_URL = 'sqlite:./data/plugboard.db';

export type DatabaseLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'postgres';
      /** The URL as given (it may hold a password: never log it). */
      readonly url: string;
      /** host:port/database, for logs and messages. */
      readonly description: string;
      /** A schema to use instead of `public` (tests give each app its own). */
      readonly schema?: string;
    };

/** Raised for a DATABASE_URL that cannot be used; the message says what to set instead. */
export class DatabaseUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUrlError';
  }
}

/** What to print for a location: never a password. */
export function describeLocation(location: DatabaseLocation): string {
  return location.kind === 'sqlite' ? `sqlite:${location.path}` : `postgres://${location.description}`;
}

function parsePostgresUrl(value: string): DatabaseLocation {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DatabaseUrlError(
      'DATABASE_URL is not a valid PostgreSQL URL; write it as postgres://USER:PASSWORD@HOST:5432/DATABASE',
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw new DatabaseUrlError(
      'DATABASE_URL names no PostgreSQL host; write it as postgres://USER@HOST:5432/DATABASE',
    );
  }
  if (database === '' || database.includes('/')) {
    throw new DatabaseUrlError(
      'DATABASE_URL names no PostgreSQL database; end it with the database name, e.g. postgres://USER@HOST:5432/plugboard',
    );
  }
  const host = url.hostname || url.searchParams.get('host') || '';
  return { kind: 'postgres', url: value, description: `${host}:${url.port || '5432'}/${database}` };
}

/**
 * Reads DATABASE_URL: `sqlite:PATH` (relative to the working directory; `sqlite::memory:` for
 * a throw-away database) or `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (also `postgresql://`).
 * Messages never repeat the URL, which may hold a password.
 */
export function parseDatabaseUrl(url: string | undefined): DatabaseLocation {
  const value = url === undefined || url === '' ? DEFAULT_DATABASE_URL : url;
  if (/^postgres(ql)?:\/\//i.test(value)) return parsePostgresUrl(value);
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '')
      throw new DatabaseUrlError('DATABASE_URL=sqlite: needs a file path, e.g. sqlite:./data/plugboard.db');
    return { kind: 'sqlite', path };
  }
  throw new DatabaseUrlError(
    `DATABASE_URL must start with sqlite: (e.g. ${DEFAULT_DATABASE_URL}) or postgres:// (e.g. postgres://plugboard@db.example.com:5432/plugboard)`,
  );
}
