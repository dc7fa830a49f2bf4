import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, type ErrorDetail, errors, listedProblems } from '../errors.js';
import { isDatabaseUnavailable } from '../store/errors.js';
import { logRequestWhenDone } from './request-log.js';

export interface ErrorBody {
  status: number;
  code: ErrorCode;
  message: string;
  errors?: ErrorDetail[];
}

/** The HTTP status of every error code: the one place where a domain error gets one. */
export const STATUS: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  BAD_REQUEST: 400,
  TYPE_IMMUTABLE: 400,
  INVALID_QUERY: 400,
  INVALID_IDEMPOTENCY_KEY: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  NAME_TAKEN: 409,
  DELIVERY_STATE: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  CANNOT_DELIVER: 422,
  RATE_LIMITED: 429,
  QUEUE_FULL: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * The body of an error answer: the code's status, the code and the message, and the problems
 * (at most MAX_LISTED_PROBLEMS of them, then how many more: see listedProblems).
 */
export function errorBody(code: ErrorCode, message: string, details?: readonly ErrorDetail[]): ErrorBody {
  return { status: STATUS[code], code, message, ...(details ? { errors: listedProblems(details) } : {}) };
}

const INTERNAL = errorBody('INTERNAL_ERROR', 'internal error; the server log has the details');

/** Fastify's own 4xx errors, renamed into our codes with messages that say how to fix the request. */
const fastifyErrors: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message:
      'the request body must be JSON: send Content-Type: application/json (or a +json type such as application/merge-patch+json)',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'BAD_REQUEST',
    message: 'Content-Length does not match the body that was sent',
  },
  FST_ERR_CTP_INVALID_TYPE: { code: 'BAD_REQUEST' },
};

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error && typeof error.code === 'string';
}

/** The one place where errors become HTTP responses. 5xx bodies never carry internal text. */
export function toErrorResponse(
  error: unknown,
  bodyLimit: number,
): { body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof AppError) {
    // A 500 says nothing of what went wrong; its message is for the log.
    if (STATUS[error.code] === 500) return { body: INTERNAL, headers: {} };
    return { body: errorBody(error.code, error.message, error.details), headers: { ...error.headers } };
  }
  if (isFastifyError(error)) {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return {
        body: errorBody(
          'PAYLOAD_TOO_LARGE',
          `the request body is larger than ${bodyLimit} bytes; connectors are much smaller than that`,
        ),
        headers: {},
      };
    }
    const known = fastifyErrors[error.code];
    if (known) return { body: errorBody(known.code, known.message ?? error.message), headers: {} };
    // Any other 4xx of Fastify's keeps its status, under our code for a request that is not right.
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return { body: { status, code: 'BAD_REQUEST', message: error.message }, headers: {} };
    }
  }
  // A driver's error that the store calls "cannot serve now" (store/errors.ts): the domain's 503.
  if (isDatabaseUnavailable(error)) {
    return toErrorResponse(
      errors.unavailable('the database is not available right now; retry shortly'),
      bodyLimit,
    );
  }
  return { body: INTERNAL, headers: {} };
}

export function sendError(
  reply: FastifyReply,
  body: ErrorBody,
  headers: Record<string, string> = {},
): FastifyReply {
  return reply.code(body.status).headers(headers).type('application/json; charset=utf-8').send(body);
}

/**
 * Fastify's `frameworkErrors` option: errors its router raises before any route or hook runs (a
 * malformed percent-encoding, a path parameter over maxParamLength). Answered in the API's error
 * shape, without quoting the URL (it can be kilobytes long), and logged like any request.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  logRequestWhenDone(request, reply);
  reply.header('X-Request-Id', request.id);
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendError(
      reply,
      errorBody('URI_TOO_LONG', 'a path segment of the URL is too long; ids and names are much shorter'),
    );
    return;
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    sendError(
      reply,
      errorBody(
        'BAD_REQUEST',
        'the URL path is not validly percent-encoded UTF-8; encode ids and names with encodeURIComponent',
      ),
    );
    return;
  }
  request.log.error({ err: error }, 'request failed');
  sendError(reply, INTERNAL);
}

export function installErrorHandler(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((error, request, reply) => {
    const { body, headers } = toErrorResponse(error, bodyLimit);
    if (body.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    }
    return sendError(reply, body, headers);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      errorBody(
        'NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0]}; GET /api/openapi.json lists every operation`,
      ),
    ),
  );
}
