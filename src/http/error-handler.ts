import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorDetail, listedProblems } from '../errors.js';
import { isDatabaseUnavailable } from '../store/errors.js';
import { logRequestWhenDone } from './request-log.js';

export interface ErrorBody {
  status: number;
  code: string;
  message: string;
  errors?: ErrorDetail[];
}

/** Fastify's own 4xx errors, renamed into our codes with messages that say how to fix the request. */
const fastifyErrors: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message:
      'the request body must be JSON: send Content-Type: application/json (or a +json type such as application/merge-patch+json)',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'BAD_REQUEST',
    message: 'Content-Length does not match the body that was sent',
  },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'BAD_REQUEST' },
};

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error && typeof error.code === 'string';
}

/** The one place where errors become HTTP responses. 5xx bodies never carry internal text. */
export function toErrorResponse(
  error: unknown,
  bodyLimit: number,
): { body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof AppError && error.status < 500) {
    return {
      body: {
        status: error.status,
        code: error.code,
        message: error.message,
        ...(error.details ? { errors: listedProblems(error.details) } : {}),
      },
      headers: { ...error.headers },
    };
  }
  if (error instanceof AppError && error.status === 503) {
    return { body: { status: 503, code: error.code, message: error.message }, headers: { ...error.headers } };
  }
  if (isFastifyError(error)) {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return {
        body: {
          status: 413,
          code: 'PAYLOAD_TOO_LARGE',
          message: `the request body is larger than ${bodyLimit} bytes; connectors are much smaller than that`,
        },
        headers: {},
      };
    }
    const known = fastifyErrors[error.code];
    if (known) {
      return {
        body: { status: known.status, code: known.code, message: known.message ?? error.message },
        headers: {},
      };
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return { body: { status, code: 'BAD_REQUEST', message: error.message }, headers: {} };
    }
  }
  if (isDatabaseUnavailable(error)) {
    return {
      body: {
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        message: 'the database is not available right now; retry shortly',
      },
      headers: { 'Retry-After': '1' },
    };
  }
  return {
    body: { status: 500, code: 'INTERNAL_ERROR', message: 'internal error; the server log has the details' },
    headers: {},
  };
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
    sendError(reply, {
      status: 414,
      code: 'URI_TOO_LONG',
      message: 'a path segment of the URL is too long; ids and names are much shorter',
    });
    return;
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    sendError(reply, {
      status: 400,
      code: 'BAD_REQUEST',
      message:
        'the URL path is not validly percent-encoded UTF-8; encode ids and names with encodeURIComponent',
    });
    return;
  }
  request.log.error({ err: error }, 'request failed');
  sendError(reply, {
    status: 500,
    code: 'INTERNAL_ERROR',
    message: 'internal error; the server log has the details',
  });
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
    sendError(reply, {
      status: 404,
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}; GET /api/openapi.json lists every operation`,
    }),
  );
}
