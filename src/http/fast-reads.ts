import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import type { RevealSecrets } from '../config.js';
import type { Connector } from '../connectors/schemas.js';
import type { ConnectorStore, StoredConnector } from '../store/connector-store.js';
import type { KeyRole } from '../store/schema.js';
import type { RecentKeys } from './auth.js';
import { etagOf } from './conditional.js';
import { DEFAULT_PAGE_SIZE, parsePage } from './paging.js';
import { presentConnector } from './present.js';
import { type GetLineWriter, getLineWriter, loggedUrl, requestIdFor } from './request-log.js';
import { sentJsonOf, sentPageJsonOf } from './routes/connectors.js';

/**
 * Sets `key` in `map`, first dropping every entry when a new key would take it past `max`: a bound
 * on memory (a client asking for ever new pages), not a cache policy.
 */
export function keepBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max && !map.has(key)) map.clear();
  map.set(key, value);
}

/**
 * A string's UTF-8 bytes in memory of their own, for bytes that are kept. Buffer.from gives a short
 * string's bytes a slice of Node's shared 8 KiB pool, and a kept slice holds its whole slab, which
 * every request's short Buffers share: after 40,000 requests of the throughput bench's mix, the
 * kept connectors' bodies (about 700 bytes each) held 1,114 slabs, 8.6 MiB, for 5,289 bodies of
 * about 3.7 MiB (a heap snapshot; issue 15's peak RSS). Made once per kept representation.
 */
export function ownBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  // Every byte is written: the length is the string's UTF-8 length.
  bytes.write(text);
  return bytes;
}

/** Answers a request itself and says true, or says false and leaves it to Fastify. */
export type FastRead = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface FastReadOptions {
  readonly keys: RecentKeys;
  readonly store: ConnectorStore;
  readonly revealSecrets: RevealSecrets;
  /** Whether the app is shutting down (its requests get the shutdown 503, from Fastify). */
  readonly closing: () => boolean;
}

const ONE = '/api/connectors/:id';
const LIST = '/api/connectors';
const PREFIX = '/api/connectors/';
/**
 * An id the route would take as it is: nothing to decode, no trailing slash, no query. `name`
 * alone is left to the router (`/api/connectors/name/:name` is a route of its own).
 */
const PLAIN_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** A list's query as the route reads it without decoding: each paging parameter at most once, digits. */
const PLAIN_PAGE = /^(max-results|start-index)=([0-9]{1,10})(?:&(max-results|start-index)=([0-9]{1,10}))?$/;
const JSON_TYPE = 'application/json; charset=utf-8';
/** Pages whose bytes are kept, by account, place and view; past this many, all are dropped. */
const MAX_KEPT_PAGES = 128;
/** Pages made ahead of a walk, by account, place and view, each until it is asked for; past this many, all are dropped. */
const MAX_AHEAD_PAGES = 16;
/** Accounts whose last page answered is remembered (to tell a walk); past this many, all are forgotten. */
const MAX_WALKERS = 1_000;
/** An app without the overload guard is never overloaded. */
// Stryker disable next-line ArrowFunction: `() => undefined` is as falsy as false where it is read
const neverUnderPressure = () => false;

/** What the route sent for a representation, ready to send again: its bytes and ETag. */
interface Sendable {
  readonly body: Buffer;
  readonly length: string;
  readonly etag: string;
}

/** The bytes of a page the way the list route makes them, and the representations they are of. */
interface SentPage {
  /** What the store gave for the page (listNow gives the same array while nothing was written). */
  readonly connectors: readonly StoredConnector[];
  readonly views: readonly Connector[];
  readonly body: Buffer;
  readonly length: string;
}

/**
 * `GET /api/connectors/{id}` and `GET /api/connectors` answered before Fastify sees the request,
 * in the plain case: a key looked up a moment ago (auth.ts's cache) that may read, connectors read
 * at once (SQLite with no transaction open), shown in the key's view by the routes' own functions
 * (presentConnector, etagOf, and the routes' compiled serializer, once a route compiled it). The
 * store gives out one frozen object per version of a connector it keeps (connector-row.ts,
 * present.ts), so for those the view, JSON and ETag are made once. On SQLite, where the connection
 * reports its own changes, a connector and a page are read again unless the database's stamp says
 * no other connection wrote since they were read and no write of this one touched them (getNow,
 * listNow, compiled.ts); otherwise they are read on every request. On PostgreSQL with
 * PLUGBOARD_POSTGRES_READ_CACHE=on a connector is kept while the notices of changes are heard
 * (connector-cache.ts), and a page is not answered here. So a change made by any process is seen
 * as the store promises.
 *
 * The answer is the route's, byte for byte: status, the same headers in the same order
 * (X-Request-Id, the ETag of one connector, Content-Type, Content-Length, then Node's), the same
 * JSON; the same request log line (pino, the same fields in the same order: the request id where
 * Fastify's child logger binds it) and the same metrics observation; the key's use recorded as the
 * hook records it. Everything else goes to Fastify unchanged: another method, path or form of the
 * URL (a query other than the paging parameters given once each in digits, a trailing slash,
 * percent-encoding), a request with a body, shutting down, an overloaded server (under-pressure's
 * 503), a key not cached, expired or refused, a connector not found, no route answered yet, a page
 * that needs new cursor marks, on PostgreSQL a list or a connector its store does not keep (the
 * read cache, connector-cache.ts, while its LISTEN is up), any error. Off when rate limits
 * are on: those count every request in Fastify's hooks (app.ts).
 *
 * What it saves is Fastify's per-request work: routing, a child logger, request and reply objects,
 * eight hooks, the reply pipeline (see docs/benchmarks.md).
 */
export function fastReads(app: FastifyInstance, options: FastReadOptions): FastRead {
  const { keys, store, revealSecrets, closing } = options;
  // under-pressure's verdict, when the overload guard is installed (it is not in in-process tests).
  const underPressure = app.hasDecorator('isUnderPressure')
    ? () => app.isUnderPressure()
    : neverUnderPressure;
  const log = () => app.log;
  /** The request line's writer, made at the first answer (the app's logger is final by then). */
  let logLine: GetLineWriter | undefined;
  const sendables = new WeakMap<Connector, Sendable>();
  const pages = new Map<string, SentPage>();
  /**
   * Pages made ahead of a walk (readAhead): the store's page read ahead and its bytes, taken by
   * the request for it when the store gives the same array (nothing written since).
   */
  const ahead = new Map<string, SentPage>();
  /** Where the last page answered to each account ended: a page asked from there continues a walk. */
  const walkEnds = new Map<number, number>();

  /** What to send for a representation: kept with a frozen one, made for this request otherwise. */
  function sendableOf(view: Connector): Sendable | undefined {
    const known = sendables.get(view);
    // Stryker disable next-line ConditionalExpression: a cache; made again, the bytes and ETag are the same
    if (known) return known;
    const json = sentJsonOf(view);
    // Stryker disable next-line ConditionalExpression: without it Buffer.byteLength(undefined) throws, and the caller's catch declines as this does
    if (json === undefined) return undefined;
    const kept = Object.isFrozen(view);
    const body = kept ? ownBytes(json) : Buffer.from(json);
    const made = { body, length: String(body.length), etag: etagOf(view) };
    // Stryker disable next-line ConditionalExpression: a cache; a view not frozen is a new object each request, never asked for again
    if (kept) sendables.set(view, made);
    return made;
  }

  /**
   * A page's bytes, as the route makes them (undefined until it compiled its serializer), of
   * `connectors` shown in `present`'s view; `place` names the page and the view.
   */
  function pageOf(
    place: string,
    connectors: readonly StoredConnector[],
    present: (connector: StoredConnector) => Connector,
  ): SentPage | undefined {
    const known = pages.get(place);
    // The same connectors in the same view: the same representations (present.ts).
    // Stryker disable next-line ConditionalExpression: a cache; made again, the page has the same bytes
    if (known?.connectors === connectors) return known;
    const madeAhead = ahead.get(place);
    if (madeAhead) {
      ahead.delete(place);
      if (madeAhead.connectors === connectors) return madeAhead;
    }
    const views = connectors.map(present);
    // Stryker disable next-line ConditionalExpression,ArrowFunction: a cache; made again, the page has the same bytes
    if (known && known.views.length === views.length && known.views.every((view, i) => view === views[i])) {
      const same = { ...known, connectors };
      keepBounded(pages, place, same, MAX_KEPT_PAGES);
      return same;
    }
    const made = pageMade(connectors, views);
    // Kept only when every representation is (one read once is this request's alone).
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: as above
    if (!made?.kept) return made;
    keepBounded(pages, place, made, MAX_KEPT_PAGES);
    return made;
  }

  /** A page's bytes as the route makes them, and whether every representation on it is kept (frozen). */
  function pageMade(
    connectors: readonly StoredConnector[],
    views: readonly Connector[],
  ): (SentPage & { readonly kept: boolean }) | undefined {
    let frozen = 0;
    for (const view of views) if (Object.isFrozen(view)) frozen++;
    // `frozen === 0` for an empty page, which goes this way as before.
    if (frozen === 0 || frozen < views.length / 2) {
      // Mostly not kept (a walk's page, read once): the page is not kept, and its JSON is made in
      // one go rather than view by view (a kept view's JSON, made again, has the same bytes). A
      // walk's page holds a kept connector or two often enough (one read before, or that the
      // codec's doorkeeper takes for one, connector-row.ts) that "none kept" missed a quarter of them
      // (1,180 of 4,444 on the bench's walk).
      const text = sentPageJsonOf(views);
      if (text === undefined) return undefined;
      const body = Buffer.from(text);
      return { connectors, views, body, length: String(body.length), kept: false };
    }
    const jsons: string[] = [];
    // Stryker disable next-line BooleanLiteral: whether to keep the page; kept or not, its bytes are the same, and a page of views not frozen (new objects each request) is never matched again
    let kept = true;
    for (const view of views) {
      const json = sentJsonOf(view);
      if (json === undefined) return undefined;
      jsons.push(json);
      // Stryker disable next-line AssignmentOperator: as above
      kept &&= Object.isFrozen(view);
    }
    // As the route makes it: the array of each connector's JSON.
    const body = Buffer.from(`[${jsons.join(',')}]`);
    return { connectors, views, body, length: String(body.length), kept };
  }

  /**
   * The page after one just answered, read and made while the client reads that one: a client
   * walking the list asks for it next, and finds it made if nothing was written meanwhile (the
   * store's stamp). Only for a page that continued a walk (it began where the account's last page
   * ended) and was full. Whatever fails leaves the page to be read when it is asked for.
   */
  function readAhead(walk: Walk): void {
    // Stryker disable next-line ConditionalExpression: a page not made ahead is read when asked for, with the same bytes
    if (closing() || !store.readAheadNow) return;
    try {
      const offset = walk.offset + walk.limit;
      const connectors = store.readAheadNow(walk.accountId, offset, walk.limit);
      if (!connectors || connectors.length === 0) return;
      const present = (connector: StoredConnector) => presentConnector(connector, walk.role, revealSecrets);
      const made = pageMade(connectors, connectors.map(present));
      if (!made) return;
      keepBounded(ahead, placeOf(walk.accountId, offset, walk.limit, walk.role), made, MAX_AHEAD_PAGES);
    } catch {
      // Read again when asked for, and failed (or answered) then as any read is.
    }
  }

  /** The page a list's query asks for, as parsePage reads it; undefined: leave it to the route. */
  function pageAsked(query: string): { offset: number; limit: number } | undefined {
    if (query === '') return { offset: 0, limit: DEFAULT_PAGE_SIZE };
    const match = PLAIN_PAGE.exec(query);
    if (!match || match[1] === match[3]) return undefined;
    const given: Record<string, string> = {};
    // Stryker disable next-line ConditionalExpression,LogicalOperator: for the types; groups 1 and 2 always match
    if (match[1] !== undefined && match[2] !== undefined) given[match[1]] = match[2];
    // Stryker disable next-line ConditionalExpression,LogicalOperator: 3 and 4 match both or neither; a `given.undefined` parsePage ignores
    if (match[3] !== undefined && match[4] !== undefined) given[match[3]] = match[4];
    // Stryker disable BlockStatement: an empty catch returns undefined as well
    try {
      return parsePage(given);
    } catch {
      return undefined;
    }
    // Stryker restore BlockStatement
  }

  /** A list page answered: which, to whom, and how many connectors it had. */
  interface Walk {
    readonly accountId: number;
    readonly role: KeyRole;
    readonly offset: number;
    readonly limit: number;
    readonly length: number;
  }

  /** What to answer: the route, the URL as logged, the account, the headers after X-Request-Id, the body. */
  interface Answer {
    readonly route: string;
    readonly url: string;
    readonly account: string;
    readonly headers: Record<string, string>;
    readonly body: Buffer;
    /** A list page's. */
    readonly walk?: Walk;
  }

  /** The answer to a plain read whose every part was made before; undefined: Fastify answers. */
  function answerTo(request: IncomingMessage, url: string): Answer | undefined {
    const { headers } = request;
    if (url.startsWith(PREFIX)) {
      const id = url.slice(PREFIX.length);
      if (!PLAIN_ID.test(id) || id === 'name') return undefined;
      // Without any of the checks below, the undefined it checks throws a TypeError a line later,
      // which the caller's catch turns into the same declining: they are for the types and the reader.
      const principal = keys.admitRead(headers.authorization, log);
      // Stryker disable next-line ConditionalExpression: see above
      if (!principal) return undefined;
      const connector = store.getNow(principal.accountId, id);
      // Stryker disable next-line ConditionalExpression: see above
      if (!connector) return undefined;
      const view = presentConnector(connector, principal.role, revealSecrets);
      const sendable = sendableOf(view);
      // Stryker disable next-line ConditionalExpression: see above
      if (!sendable) return undefined;
      return {
        route: ONE,
        url,
        account: principal.accountName,
        headers: { etag: sendable.etag, 'content-type': JSON_TYPE, 'content-length': sendable.length },
        body: sendable.body,
      };
    }
    let query: string;
    if (url.length === LIST.length) query = '';
    else if (url[LIST.length] === '?') query = url.slice(LIST.length + 1);
    else return undefined;
    const asked = pageAsked(query);
    // Stryker disable next-line ConditionalExpression: as for one connector, a TypeError the catch declines
    if (!asked) return undefined;
    const principal = keys.admitRead(headers.authorization, log);
    // Stryker disable next-line ConditionalExpression: as above
    if (!principal) return undefined;
    const connectors = store.listNow(principal.accountId, asked.offset, asked.limit);
    // Stryker disable next-line ConditionalExpression: as above
    if (!connectors) return undefined;
    // Keyed by the role (the view), checked by the representations themselves.
    const page = pageOf(
      placeOf(principal.accountId, asked.offset, asked.limit, principal.role),
      connectors,
      (connector) => presentConnector(connector, principal.role, revealSecrets),
    );
    // Stryker disable next-line ConditionalExpression: without it, the undefined page throws a line later, and the catch declines just the same
    if (!page) return undefined;
    return {
      route: LIST,
      url: loggedUrl(url),
      account: principal.accountName,
      headers: { 'content-type': JSON_TYPE, 'content-length': page.length },
      body: page.body,
      walk: {
        accountId: principal.accountId,
        role: principal.role,
        offset: asked.offset,
        limit: asked.limit,
        length: connectors.length,
      },
    };
  }

  return (request, response) => {
    const started = performance.now();
    if (request.method !== 'GET') return false;
    const url = request.url;
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: for the types; a server's request always has its URL
    if (url === undefined) return false;
    if (!url.startsWith(LIST)) return false;
    const { headers } = request;
    if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    if (closing() || underPressure()) return false;
    let planned: Answer | undefined;
    // Stryker disable BlockStatement: an empty catch leaves `planned` undefined, declined below all the same
    try {
      planned = answerTo(request, url);
    } catch {
      // Whatever failed, Fastify fails it again and answers as it does (the error handler's 500 or 503).
      return false;
    }
    // Stryker restore BlockStatement
    if (!planned) return false;
    const { route, account } = planned;
    const requestId = requestIdFor(request);
    response.writeHead(200, { 'x-request-id': requestId, ...planned.headers });
    response.end(planned.body);
    const latencyMs = performance.now() - started;
    logLine ??= getLineWriter(app.log);
    logLine(requestId, route, planned.url, Math.round(latencyMs * 100) / 100, account);
    app.observeRequest(route, 'GET', 200, latencyMs / 1000);
    const { walk } = planned;
    if (walk) {
      const continues = walk.offset > 0 && walkEnds.get(walk.accountId) === walk.offset;
      keepBounded(walkEnds, walk.accountId, walk.offset + walk.length, MAX_WALKERS);
      if (continues && walk.length === walk.limit) setImmediate(readAhead, walk);
    }
    return true;
  };
}

/** Names a page and the view it is shown in. */
function placeOf(accountId: number, offset: number, limit: number, role: KeyRole): string {
  return `${accountId}:${offset}:${limit}:${role}`;
}

/** Puts `read` in front of the app's request handler on its server: what it does not answer goes to Fastify. */
export function answerFirst(server: Server, read: FastRead): void {
  const handlers = server.listeners('request');
  const [fastify] = handlers;
  if (
    handlers.length !== 1 ||
    // Stryker disable next-line ConditionalExpression: for the types; a 'request' listener is a function
    typeof fastify !== 'function'
  )
    throw new Error(`answerFirst: the server has ${handlers.length} request listeners, not Fastify's one`);
  server.removeListener('request', fastify as (...args: unknown[]) => void);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (!read(request, response)) fastify.call(server, request, response);
  });
}
