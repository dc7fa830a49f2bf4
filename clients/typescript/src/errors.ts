import type { components } from './openapi.js';

export type ErrorBody = components['schemas']['Error'];
export type FieldError = NonNullable<ErrorBody['errors']>[number];

/**
 * An answer of the API that is not a success: its HTTP status, the stable `code`
 * (`VALIDATION_FAILED`, `NOT_FOUND`, `NAME_TAKEN`, `PRECONDITION_FAILED`, …), the message saying
 * what is wrong and how to fix it, and for a refused body one entry per problem (`field` is a
 * JSON pointer such as `/params/url`).
 */
export class PlugboardError extends Error {
  override readonly name = 'PlugboardError';
  readonly status: number;
  readonly code: string;
  readonly errors: readonly FieldError[];
  /** Seconds the server asked to wait (Retry-After), on a 429 or 503 that retries did not get past. */
  readonly retryAfter: number | undefined;

  constructor(status: number, body: Partial<ErrorBody> | undefined, retryAfter?: number) {
    super(body?.message ?? `the server answered ${status} without an error body`);
    this.status = status;
    this.code = body?.code ?? (status >= 500 ? 'SERVER_ERROR' : 'HTTP_ERROR');
    this.errors = body?.errors ?? [];
    this.retryAfter = retryAfter;
  }

  /** The message and one line per field error, for people. */
  describe(): string {
    return [this.message, ...this.errors.map((e) => `  ${e.field || '(body)'}: ${e.message}`)].join('\n');
  }
}

/** The server could not be reached (or the connection broke) after every allowed attempt. */
export class PlugboardConnectionError extends Error {
  override readonly name = 'PlugboardConnectionError';
  constructor(
    readonly url: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`could not reach ${url}: ${reason}`, options);
  }
}

function isErrorBody(value: unknown): value is Partial<ErrorBody> {
  return typeof value === 'object' && value !== null && 'message' in value;
}

/** The PlugboardError of a response that is not a success. */
export async function errorOf(response: Response, retryAfter?: number): Promise<PlugboardError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  return new PlugboardError(response.status, isErrorBody(body) ? body : undefined, retryAfter);
}
