import { type ServerOptions, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

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
  clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => void;
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
 * the API's error shape, then closes the connection; Fastify's default answers in its own shape.
 */
function clientErrorHandler(timeouts: TimeoutSettings) {
  const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    let body: { status: number; code: string; message: string };
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      body = {
        status: 408,
        code: 'REQUEST_TIMEOUT',
        message: `the request did not arrive in time: the headers must arrive within ${seconds(timeouts.headersMs)}, the whole request within ${seconds(timeouts.requestMs)}`,
      };
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      body = { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' };
    } else {
      body = { status: 400, code: 'BAD_REQUEST', message: 'the request is not valid HTTP/1.1' };
    }
    if (socket.writable) {
      const text = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${body.status} ${STATUS_CODES[body.status]}\r\nConnection: close\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
    }
    socket.destroy(error);
  };
}
