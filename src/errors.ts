/** One problem with a request, located by a JSON pointer into the body or naming a query parameter. */
export interface ErrorDetail {
  readonly field: string;
  readonly message: string;
}

/**
 * Every error code the API answers with: stable, UPPER_SNAKE, the one list. The HTTP error handler
 * gives each its status (src/http/error-handler.ts), and a test holds README's error table to it.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'BAD_REQUEST'
  | 'TYPE_IMMUTABLE'
  | 'INVALID_QUERY'
  | 'INVALID_IDEMPOTENCY_KEY'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'NAME_TAKEN'
  | 'DELIVERY_STATE'
  | 'IDEMPOTENCY_KEY_IN_USE'
  | 'PRECONDITION_FAILED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'CANNOT_DELIVER'
  | 'PAYLOAD_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'QUEUE_FULL'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_ERROR';

/**
 * A domain error: a code and a message written for the person who sent the request, and no HTTP
 * status: the store, validation and the HTTP plumbing raise these alike, and the error handler
 * alone turns the code into a status and a response. Messages never quote a param value.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: readonly ErrorDetail[],
    /** Fields the answer carries with it (Retry-After, WWW-Authenticate, ETag). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const errors = {
  validation(message: string, details: readonly ErrorDetail[]): AppError {
    return new AppError('VALIDATION_FAILED', message, details);
  },
  invalidQuery(details: readonly ErrorDetail[]): AppError {
    return new AppError('INVALID_QUERY', details.map((d) => d.message).join('; '), details);
  },
  unauthorized(message: string, tokenError: boolean): AppError {
    const challenge = tokenError
      ? 'Bearer realm="plugboard", error="invalid_token"'
      : 'Bearer realm="plugboard"';
    return new AppError('UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': challenge });
  },
  forbidden(message: string): AppError {
    return new AppError('FORBIDDEN', message);
  },
  connectorNotFound(by: 'id' | 'name', value: string): AppError {
    return new AppError('NOT_FOUND', `no connector with ${by} ${quote(value)}`);
  },
  deliveryNotFound(id: string): AppError {
    return new AppError('NOT_FOUND', `no delivery with id ${quote(id)}`);
  },
  /** The connector's type cannot deliver, or this connector lacks what delivery needs (`reason` says what to add). */
  cannotDeliver(reason: string): AppError {
    return new AppError('CANNOT_DELIVER', reason);
  },
  /** The account's queue of pending deliveries is at its cap. */
  queueFull(cap: number, retryAfterSeconds: number): AppError {
    return new AppError(
      'QUEUE_FULL',
      `this account has ${cap} deliveries waiting to be sent (PLUGBOARD_DELIVERY_QUEUE_CAP); ` +
        'retry once some are sent, or look for a target that fails (GET /api/deliveries?state=retrying)',
      undefined,
      { 'Retry-After': String(retryAfterSeconds) },
    );
  },
  /** Retry or cancel of a delivery in a state that does not allow it. */
  deliveryState(message: string): AppError {
    return new AppError('DELIVERY_STATE', message);
  },
  nameTaken(name: string): AppError {
    return new AppError(
      'NAME_TAKEN',
      `a connector named ${quote(name)} already exists in this account; choose another name or update that connector`,
      [{ field: '/name', message: 'must be unique within the account' }],
    );
  },
  typeImmutable(storedType: string): AppError {
    return new AppError(
      'TYPE_IMMUTABLE',
      `the type of a connector cannot be changed (this one is '${storedType}'); create a new connector for another type`,
      [{ field: '/type', message: `must be '${storedType}'` }],
    );
  },
  /** The server or its database cannot serve now; the client should retry after `retryAfterSeconds`. */
  unavailable(message: string, retryAfterSeconds = 1): AppError {
    return new AppError('SERVICE_UNAVAILABLE', message, undefined, {
      'Retry-After': String(retryAfterSeconds),
    });
  },
  /** A bug: the answer says only that (the handler never sends this message), the log says the rest. */
  internal(message: string): AppError {
    return new AppError('INTERNAL_ERROR', message);
  },
} as const;

/** Quotes user input for a message, shortened so that a huge value cannot flood a response or a log. */
export function quote(value: string, max = 100): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}

/**
 * The most problems one error lists. A 35 KB body with 3,000 unknown fields made a 905 KB answer;
 * the first few problems are what a client fixes first anyway.
 */
export const MAX_LISTED_PROBLEMS = 20;

/**
 * At most MAX_LISTED_PROBLEMS details and, when there were more, one more at the body's root
 * (field `""`) saying how many were left out: the same `{field, message}` shape clients parse.
 */
export function listedProblems(details: readonly ErrorDetail[]): ErrorDetail[] {
  if (details.length <= MAX_LISTED_PROBLEMS) return [...details];
  const more = details.length - MAX_LISTED_PROBLEMS;
  return [
    ...details.slice(0, MAX_LISTED_PROBLEMS),
    {
      field: '',
      message: `${more} more problem${more === 1 ? '' : 's'} not listed (only the first ${MAX_LISTED_PROBLEMS} are); fix these and send the request again`,
    },
  ];
}

/** `field message; field message; …` of at most MAX_LISTED_PROBLEMS details, then how many more there were. */
export function summarizeProblems(details: readonly ErrorDetail[]): string {
  const shown = details
    .slice(0, MAX_LISTED_PROBLEMS)
    .map(({ field, message }) => `${field || '(body)'} ${message}`)
    .join('; ');
  const more = details.length - MAX_LISTED_PROBLEMS;
  return more > 0 ? `${shown}; and ${more} more problem${more === 1 ? '' : 's'}` : shown;
}
