import { randomUUID } from 'node:crypto';
import { maxHeaderSize, type ServerOptions, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type ErrorBody, errorBody } from './error-handler.js';
import { answeredEarly, logRefusedRequest } from './request-log.js';

/** What Node passes to a `clientError` listener; `rawPacket` holds the bytes it could not parse. */
type ClientError = Error & { code?: string; rawPacket?: unknown };

/** How long a client may take; a slow or silent client cannot hold a connection forever. */
export interface TimeoutSettings {
  /** The request line and headers must arrive within this (Node's `headersTimeout`); else 408 and close. */
  readonly headersMs: number;
  /** The whole request, body included, must arrive within this (`requestTimeout`); else 408 and close. */
  readonly requestMs: number;
  /** An idle keep-alive connection is closed after this (`keepAliveTimeout`). */
  readonly keepAliveMs: number;
  /** A connection on which nothing moves, in either direction, is closed after this (`connectionTimeout`). */
  readonly idleMs: number;
  /** How often Node looks for connections past `headersMs` or `requestMs` (its default, 30 s, is coarse). */
  readonly checkIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: TimeoutSettings = {
  headersMs: 10_000,
  requestMs: 30_000,
  // Longer than the 60 s idle timeout of common load balancers (AWS ALB, nginx upstream
  // keep-alive), so that the proxy, not us, closes an idle connection and never reuses one we closed.
  keepAliveMs: 72_000,
  idleMs: 60_000,
  checkIntervalMs: 1_000,
};

/** The Fastify (and Node http.Server) options for these timeouts. */
export function serverTimeoutOptions(timeouts: TimeoutSettings): {
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  http: ServerOptions;
  clientErrorHandler: (this: FastifyInstance, error: ClientError, socket: Socket) => void;
} {
  return {
    clientErrorHandler: clientErrorHandler(timeouts),
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionTimeout: timeouts.idleMs,
    http: {
      headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    },
  };
}

/**
 * Answers what Node refuses before a request exists (a timeout, oversized headers, bad HTTP) in
 * the API's error shape with a request id, logs it as a request line, then closes the connection;
 * Fastify's default answers in its own shape and logs nothing. Fastify calls it with `this` bound
 * to the app.
 */
function clientErrorHandler(timeouts: TimeoutSettings) {
  const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  return function onClientError(this: FastifyInstance, error: ClientError, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    if (responseStarted(socket) || answeredEarly(socket)) {
      // The request was answered (and logged) before the rest of it arrived, e.g. a 401 before
      // its body: a second response would corrupt the connection and log the request twice.
      socket.destroy(error);
      return;
    }
    let body: ErrorBody;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      body = errorBody(
        'REQUEST_TIMEOUT',
        `the request did not arrive in time: the headers must arrive within ${seconds(timeouts.headersMs)}, the whole request within ${seconds(timeouts.requestMs)}`,
      );
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      body = errorBody(
        'HEADERS_TOO_LARGE',
        `the request line and headers are over ${Math.round(maxHeaderSize / 102.4) / 10} KiB together (Node's limit); send fewer or shorter headers`,
      );
    } else {
      body = errorBody('BAD_REQUEST', 'the request is not valid HTTP/1.1');
    }
    const requestId = randomUUID();
    if (socket.writable) {
      const text = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${body.status} ${STATUS_CODES[body.status]}\r\nConnection: close\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
          `X-Request-Id: ${requestId}\r\n\r\n${text}`,
      );
    }
    logRefusedRequest(this.log, this.observeRequest, {
      requestId,
      status: body.status,
      error: error.code ?? 'HTTP_PARSE_ERROR',
      ...(Buffer.isBuffer(error.rawPacket) ? { rawPacket: error.rawPacket } : {}),
    });
    socket.destroy(error);
  };
}

/** Whether Node's in-flight response on this socket (its private `_httpMessage`) has begun. */
function responseStarted(socket: Socket): boolean {
  const response: unknown = Reflect.get(socket, '_httpMessage');
  return typeof response === 'object' && response !== null && Reflect.get(response, '_headerSent') === true;
}
