/** One problem with a request, located by a JSON pointer into the body or naming a query parameter. */
export interface ErrorDetail {
  readonly field: string;
  readonly message: string;
}

/**
 * A domain error: an HTTP status, a stable UPPER_SNAKE code and a message written for the
 * person who sent the request. Turned into a response in exactly one place (the error handler).
 * Messages never quote a param value.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: readonly ErrorDetail[],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const errors = {
  validation(message: string, details: readonly ErrorDetail[]): AppError {
    return new AppError(400, 'VALIDATION_FAILED', message, details);
  },
  invalidQuery(details: readonly ErrorDetail[]): AppError {
    return new AppError(400, 'INVALID_QUERY', details.map((d) => d.message).join('; '), details);
  },
  unauthorized(message: string, tokenError: boolean): AppError {
    const challenge = tokenError
      ? 'Bearer realm="plugboard", error="invalid_token"'
      : 'Bearer realm="plugboard"';
    return new AppError(401, 'UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': challenge });
  },
  forbidden(message: string): AppError {
    return new AppError(403, 'FORBIDDEN', message);
  },
  connectorNotFound(by: 'id' | 'name', value: string): AppError {
    return new AppError(404, 'NOT_FOUND', `no connector with ${by} ${quote(value)}`);
  },
  nameTaken(name: string): AppError {
    return new AppError(
      409,
      'NAME_TAKEN',
      `a connector named ${quote(name)} already exists in this account; choose another name or update that connector`,
      [{ field: '/name', message: 'must be unique within the account' }],
    );
  },
  typeImmutable(storedType: string): AppError {
    return new AppError(
      400,
      'TYPE_IMMUTABLE',
      `the type of a connector cannot be changed (this one is '${storedType}'); create a new connector for another type`,
      [{ field: '/type', message: `must be '${storedType}'` }],
    );
  },
  unavailable(message: string): AppError {
    return new AppError(503, 'SERVICE_UNAVAILABLE', message, undefined, { 'Retry-After': '1' });
  },
} as const;

/** Quotes user input for a message, shortened so that a huge value cannot flood a response or a log. */
export function quote(value: string, max = 100): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}
