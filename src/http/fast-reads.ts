import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import type { RevealSecrets } from '../config.js';
import type { Connector } from '../connectors/schemas.js';
import type { ConnectorStore } from '../store/connector-store.js';
import type { RecentKeys } from './auth.js';
import { etagOf } from './conditional.js';
import { presentConnector } from './present.js';
import { requestIdFor } from './request-log.js';
import { sentJsonOf } from './routes/connectors.js';

/** Answers a request itself and says true, or says false and leaves it to Fastify. */
export type FastRead = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface FastReadOptions {
  readonly keys: RecentKeys;
  readonly store: ConnectorStore;
  readonly revealSecrets: RevealSecrets;
  /** Whether the app is shutting down (its requests get the shutdown 503, from Fastify). */
  readonly closing: () => boolean;
}

const ROUTE = '/api/connectors/:id';
const PREFIX = '/api/connectors/';
/**
 * An id the route would take as it is: nothing to decode, no trailing slash, no query. `name`
 * alone is left to the router (`/api/connectors/name/:name` is a route of its own).
 */
const PLAIN_ID = /^[A-Za-z0-9_-]{1,128}$/;
const JSON_TYPE = 'application/json; charset=utf-8';

/** What the route sent for a representation, ready to send again: its bytes and ETag. */
interface Sendable {
  readonly body: Buffer;
  readonly length: string;
  readonly etag: string;
}

/**
 * `GET /api/connectors/{id}` answered before Fastify sees the request, when it is the plain case
 * whose every part was made before: a key looked up a moment ago (auth.ts's cache) that may read,
 * and a connector whose representation for that key's view the route already sent (the store gives
 * out one frozen object per version of a connector, see connector-row.ts and present.ts; its JSON
 * is kept by the route). The connector is still read from the database on every request (at once,
 * on SQLite with no transaction open), so a change made by any process is seen as before.
 *
 * The answer is the route's, byte for byte: status, the same headers in the same order
 * (X-Request-Id, ETag, Content-Type, Content-Length, then Node's), the same JSON; the same request
 * log line (pino, the same fields in the same order: the request id where Fastify's child logger
 * binds it) and the same metrics observation; the key's use recorded as the hook records it.
 * Everything else goes to Fastify unchanged: another method, path or form of the URL (a query, a
 * trailing slash, percent-encoding), a request with a body, shutting down, an overloaded server
 * (under-pressure's 503), a key not cached, expired or refused, a connector not found or not read
 * before, PostgreSQL (no synchronous read), any error. Off when rate limits are on: those count
 * every request in Fastify's hooks (app.ts).
 *
 * What it saves is Fastify's per-request work: routing, a child logger, request and reply objects,
 * eight hooks, the reply pipeline (see docs/benchmarks.md).
 */
export function fastReads(app: FastifyInstance, options: FastReadOptions): FastRead {
  const { keys, store, revealSecrets, closing } = options;
  // under-pressure's verdict, when the overload guard is installed (it is not in in-process tests).
  const underPressure = app.hasDecorator('isUnderPressure') ? () => app.isUnderPressure() : () => false;
  const log = () => app.log;
  const sendables = new WeakMap<Connector, Sendable>();

  function sendableOf(view: Connector): Sendable | undefined {
    const known = sendables.get(view);
    if (known) return known;
    const json = sentJsonOf(view);
    if (json === undefined) return undefined;
    const body = Buffer.from(json);
    const made = { body, length: String(body.length), etag: etagOf(view) };
    sendables.set(view, made);
    return made;
  }

  return (request, response) => {
    const started = performance.now();
    if (request.method !== 'GET') return false;
    const url = request.url;
    if (url === undefined || !url.startsWith(PREFIX)) return false;
    const id = url.slice(PREFIX.length);
    if (!PLAIN_ID.test(id) || id === 'name') return false;
    const { headers } = request;
    if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    if (closing() || underPressure()) return false;
    let sendable: Sendable | undefined;
    let account: string;
    try {
      const principal = keys.admitRead(headers.authorization, log);
      if (!principal) return false;
      const connector = store.getNow(principal.accountId, id);
      if (!connector) return false;
      const view = presentConnector(connector, principal.role, revealSecrets);
      if (!Object.isFrozen(view)) return false;
      sendable = sendableOf(view);
      account = principal.accountName;
    } catch {
      // Whatever failed, Fastify fails it again and answers as it does (the error handler's 500 or 503).
      return false;
    }
    if (!sendable) return false;
    const requestId = requestIdFor(request);
    response.writeHead(200, {
      'x-request-id': requestId,
      etag: sendable.etag,
      'content-type': JSON_TYPE,
      'content-length': sendable.length,
    });
    response.end(sendable.body);
    const latencyMs = performance.now() - started;
    app.log.info(
      {
        requestId,
        method: 'GET',
        route: ROUTE,
        url,
        status: 200,
        latencyMs: Math.round(latencyMs * 100) / 100,
        account,
      },
      'request',
    );
    app.observeRequest(ROUTE, 'GET', 200, latencyMs / 1000);
    return true;
  };
}

/** Puts `read` in front of the app's request handler on its server: what it does not answer goes to Fastify. */
export function answerFirst(server: Server, read: FastRead): void {
  const handlers = server.listeners('request');
  const [fastify] = handlers;
  if (handlers.length !== 1 || typeof fastify !== 'function')
    throw new Error(`answerFirst: the server has ${handlers.length} request listeners, not Fastify's one`);
  server.removeListener('request', fastify as (...args: unknown[]) => void);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (!read(request, response)) fastify.call(server, request, response);
  });
}
