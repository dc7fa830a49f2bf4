import dns from 'node:dns';
import http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import { type IpFamily, isAllowedAddress, normalizeHostName, refusalReason } from './addresses.js';
import type { AllowedTargets } from './allowed-targets.js';
import { OutboundError, type OutboundMethod, RefusedAddressError } from './types.js';

/**
 * One outbound call on the wire: the address checks (with one DNS lookup per host name, whose
 * answers are then pinned into the socket) and one HTTP exchange per hop, all under one deadline.
 * The redirect policy and the request's shape are the client's (client.ts).
 */

export interface PinnedAddress {
  readonly address: string;
  readonly family: IpFamily;
}

export interface Hop {
  readonly url: URL;
  readonly method: OutboundMethod;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

export interface RawResponse {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The port a URL connects to: its own, or its scheme's (443 for https:, 80 for http:). */
export function portOf(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** `host[:port]` as shown in messages — no userinfo, path or query. */
export function where(url: URL): string {
  return url.host;
}

/** `limit` says which time limit ran out: `within 5000 ms`, `before the caller's deadline`. */
function timeoutError(url: URL, limit: string): OutboundError {
  return new OutboundError('timeout', `no complete answer from ${where(url)} ${limit}`);
}

/**
 * Why a checked address is refused, for a message: the kind of range it is in (`private`,
 * `loopback`); a public address is refused only when it came with another family than its own.
 */
function refusedAs(address: string): string {
  return refusalReason(address) ?? 'refused';
}

function isLocalhostName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

/** The address literal of an IP host (`[::1]` → `::1`), or undefined for a name. */
function literalAddress(url: URL): PinnedAddress | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const family = net.isIP(host);
  return family === 4 || family === 6 ? { address: host, family } : undefined;
}

/** The `code` of a Node error (`ECONNREFUSED`), or '' when it has none. */
function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null || !('code' in error)) return '';
  return typeof error.code === 'string' ? error.code : '';
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA']);
const CONNECT_CODES: ReadonlyMap<string, string> = new Map([
  ['ECONNREFUSED', 'connection refused'],
  ['ECONNRESET', 'connection closed without a complete answer'],
  ['EPIPE', 'connection closed while sending'],
  ['ECONNABORTED', 'connection aborted'],
  ['EHOSTUNREACH', 'host unreachable'],
  ['ENETUNREACH', 'network unreachable'],
  ['EHOSTDOWN', 'host down'],
  ['ENETDOWN', 'network down'],
  ['EADDRNOTAVAIL', 'address not available'],
]);

/**
 * Maps a Node error to the OutboundError the caller sees; the message names the host (and port) and
 * the error code, never repeats Node's message (which may quote more).
 */
export function classify(error: unknown, url: URL, limit: string): OutboundError {
  if (error instanceof OutboundError) return error;
  const code = errorCode(error);
  if (DNS_CODES.has(code)) return new OutboundError('dns', `could not resolve ${url.hostname} (${code})`);
  // Before the codes: Node gives a hang-up before any answer the code ECONNRESET too.
  if (error instanceof Error && error.message === 'socket hang up') {
    return new OutboundError('connect', `${where(url)} hung up without answering`);
  }
  const connect = CONNECT_CODES.get(code);
  if (connect !== undefined) {
    return new OutboundError('connect', `could not talk to ${where(url)}: ${connect} (${code})`);
  }
  if (code === 'ETIMEDOUT' || code === 'ERR_SOCKET_CONNECTION_TIMEOUT') return timeoutError(url, limit);
  if (code.startsWith('HPE_')) {
    return new OutboundError('protocol', `malformed HTTP answer from ${where(url)} (${code})`);
  }
  const tls = url.protocol === 'https:' ? 'TLS or HTTP failure' : 'HTTP failure';
  return new OutboundError('protocol', `${tls} talking to ${where(url)}${code === '' ? '' : ` (${code})`}`);
}

/**
 * The answer's headers as callers see them (lower-case names; a repeated header's values joined
 * with ", ", in the order received, as Node's `headersDistinct` gives them), and the first
 * Content-Length, read in one pass over the raw list: Node builds `headers` and
 * `headersDistinct` (each an object of arrays or strings) only when asked, and asking for both
 * cost more than this loop.
 */
function collectHeaders(raw: readonly string[]): {
  headers: Record<string, string>;
  length: string | undefined;
} {
  const headers: Record<string, string> = {};
  let length: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    if (name === 'content-length') length ??= value;
    if (name === '__proto__') {
      // An own property, as Object.fromEntries made it, never the object's prototype.
      const known = Object.getOwnPropertyDescriptor(headers, name)?.value as string | undefined;
      Object.defineProperty(headers, name, {
        value: known === undefined ? value : `${known}, ${value}`,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      continue;
    }
    const known = headers[name];
    headers[name] = known === undefined ? value : `${known}, ${value}`;
  }
  return { headers, length };
}

/**
 * The request's header lines as Node takes them whole (`[name, value, name, value, ...]`): Node
 * then validates and writes them at once, where an object is set header by header (a validation,
 * a lower-cased copy and a stored entry each, then read back). The Host header is the one Node
 * makes from `hostname` and `port` (the URL's host: an IPv6 address in brackets, the port when it
 * is not the scheme's), at the end, where Node puts its own. `headers` names each header once
 * (client.ts). Undefined for a request without a body that Node sends with `Content-Length: 0`
 * after its Connection header (POST, PUT and PATCH): those keep the object.
 */
function headerLines(hop: Hop): string[] | undefined {
  const lines: string[] = [];
  const { headers } = hop;
  for (const name in headers) lines.push(name, headers[name] as string);
  if (hop.body !== undefined) lines.push('Content-Length', String(Buffer.byteLength(hop.body)));
  else if (hop.method !== 'GET') return undefined;
  lines.push('Host', hop.url.host);
  return lines;
}

/**
 * node:https and node:tls, loaded by the first call to an https: URL: TLS is what a server's start
 * does not otherwise need (issue 15: start-up within 3 × a bare node:http server's).
 */
let httpsModule: typeof https | undefined;
function httpsLoaded(): typeof https {
  httpsModule ??= process.getBuiltinModule('node:https');
  return httpsModule;
}
let tlsModule: typeof tls | undefined;
function tlsLoaded(): typeof tls {
  tlsModule ??= process.getBuiltinModule('node:tls');
  return tlsModule;
}

/** A pooled connection idle this long is closed (below the 5 s a Node server keeps one open). */
export const IDLE_CONNECTION_MS = 4_000;
/**
 * How much earlier than a target's `Keep-Alive: timeout=N` hint a pooled connection is closed, as
 * Node's own agent does: a request sent as the target closes the connection is lost.
 */
const KEEP_ALIVE_MARGIN_MS = 1_000;

type UndiciClient = typeof import('undici').Client;
/**
 * undici's HTTP/1.1 client, loaded by the first pooled call (the deliveries'): a pooled exchange
 * through it took about a third less CPU than through node:http's ClientRequest and keep-alive
 * Agent (51-76 µs against 88-114, 20,000 webhook POSTs at concurrency 8, five pairs), and a server
 * that never delivers (or a start, issue 15) does not load it. Its Client's module alone, not the
 * package's index, which evaluates everything else too (fetch, WebSocket, caches, mocks, proxies):
 * 80 ms against 22 from node_modules, a part of the deliveries thread's start before its first send.
 */
let undiciClient: UndiciClient | undefined;
let undiciLoading: Promise<UndiciClient> | undefined;
function loadUndici(): Promise<UndiciClient> {
  undiciLoading ??= import('undici/lib/dispatcher/client.js').then((loaded) => {
    undiciClient = loaded.default;
    return loaded.default;
  });
  return undiciLoading;
}

/**
 * Loads the client of pooled calls now (the deliveries thread, before its first claim: a claim's
 * lease runs while its deliveries wait, and its first sends need not wait for this). A failure is
 * left to the calls, which report it.
 */
export function preparePooledCalls(): Promise<void> {
  return loadUndici().then(
    () => undefined,
    () => undefined,
  );
}

/**
 * The key of a pooled connection: the caller's pool (OutboundRequest.pool), the checked addresses
 * (sorted) and the origin (scheme, host and port, so also the TLS name), as JSON.
 */
export function poolKey(pool: string, url: URL, addresses: CheckedAddresses): string {
  return JSON.stringify([
    pool,
    addresses.length === 1 ? [addresses[0].address] : addresses.map((a) => a.address).sort(),
    url.protocol,
    url.host,
  ]);
}

/**
 * A socket's DNS: the checked addresses and no others, all of them when Node tries several
 * (autoSelectFamily), whatever name it asks for.
 */
function pinnedLookup(addresses: CheckedAddresses): net.LookupFunction {
  const [first] = addresses;
  return (_hostname, options, callback) => {
    if (options.all)
      callback(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, first.address, first.family);
  };
}

/**
 * Opens a pooled connection: to the checked addresses only (the pinned lookup below), TLS with the
 * host name as SNI and certificate name (none for an address), the TLS session of the pool's
 * previous connection offered again (a session never passes from one pool to another).
 */
function pinnedConnector(url: URL, addresses: CheckedAddresses, connectMs: number): Connector {
  const lookup = pinnedLookup(addresses);
  const literal = literalAddress(url);
  const host = literal?.address ?? url.hostname;
  const port = portOf(url);
  const servername = literal === undefined ? normalizeHostName(url.hostname) : undefined;
  let session: Buffer | undefined;
  return (_options, callback) => {
    const common = { host, port, lookup, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1_000 };
    let socket: net.Socket;
    try {
      socket =
        url.protocol === 'https:'
          ? tlsLoaded().connect({
              ...common,
              ...(servername === undefined ? {} : { servername }),
              ...(session === undefined ? {} : { session }),
            })
          : net.connect(common);
    } catch (error) {
      callback(error as Error, null);
      return;
    }
    const opened = socket;
    if (url.protocol === 'https:') {
      socket.on('session', (data: Buffer) => {
        session = data;
      });
    }
    const connectEvent = url.protocol === 'https:' ? 'secureConnect' : 'connect';
    // Bounded as a call is (each call also ends at its own deadline, which gives up waiting).
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, connectMs);
    const failed = (error: Error) => {
      clearTimeout(timer);
      socket.off(connectEvent, connected);
      callback(error, null);
    };
    const connected = () => {
      clearTimeout(timer);
      socket.off('error', failed);
      callback(null, opened);
    };
    socket.once(connectEvent, connected);
    socket.once('error', failed);
  };
}

type Connector = import('undici').buildConnector.connector;

/** One keep-alive connection of a pool (an undici Client, which reopens it when it closed). */
interface PooledConnection {
  readonly client: import('undici').Client;
  /** Exchanges dispatched to it and not yet ended. */
  busy: number;
}

/** The connections of one pool key. */
interface KeyedPool {
  readonly connections: PooledConnection[];
  readonly connector: Connector;
  readonly origin: string;
  /** When an exchange last ended or began (epoch ms). */
  usedAt: number;
}

/**
 * Keep-alive connections, shared only within one pool key, which holds the caller's pool (one
 * connector: no connection, TLS session or anything else a target ties to a connection passes
 * from one connector, or account, to another) and the addresses the call just checked: a
 * connection is reused only by a call whose own address check allowed every address it may be
 * connected to. (It was opened to one of them: the pinned lookup of the call that opened it, whose
 * checked addresses are the same, since they are part of the key, gave no others.)
 *
 * An exchange goes to the first connection of its key with none under way, else to a new one (as
 * many as there are exchanges at once: a connector's concurrency). A connection whose exchange
 * just ended takes the next at once: undici sends it a turn of the event loop later, once it has
 * seen the connection stay open. A connection idle IDLE_CONNECTION_MS is closed (undici's
 * keep-alive timeout); a key unused for twice that is forgotten.
 */
export class ConnectionPools {
  readonly #pools = new Map<string, KeyedPool>();
  #sweeper: NodeJS.Timeout | undefined;

  /** Whether the HTTP client of pooled calls is loaded; until then, `ready()` loads it. */
  get loaded(): boolean {
    return undiciClient !== undefined;
  }

  ready(): Promise<unknown> {
    return loadUndici();
  }

  /**
   * Sends one exchange over a connection of `key` (made for `url` and `addresses` when new); needs
   * `loaded`. The handler's end (onComplete or onError) must call the returned release once.
   */
  dispatch(
    key: string,
    url: URL,
    addresses: CheckedAddresses,
    connectMs: number,
    options: import('undici').Dispatcher.DispatchOptions,
    handler: PooledExchange,
  ): void {
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = {
        connections: [],
        connector: pinnedConnector(url, addresses, connectMs),
        origin: `${url.protocol}//${url.host}`,
        usedAt: 0,
      };
      this.#pools.set(key, pool);
      this.#sweeper ??= setInterval(() => this.#sweep(), IDLE_CONNECTION_MS).unref();
    }
    pool.usedAt = Date.now();
    let connection: PooledConnection | undefined;
    for (const known of pool.connections) {
      if (known.busy === 0) {
        connection = known;
        break;
      }
    }
    if (connection === undefined) {
      if (undiciClient === undefined) throw new Error('the pooled HTTP client is not loaded');
      connection = {
        client: new undiciClient(pool.origin, {
          connect: pool.connector,
          keepAliveTimeout: IDLE_CONNECTION_MS,
          keepAliveMaxTimeout: IDLE_CONNECTION_MS,
          keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS,
          // The call's own deadline bounds each exchange (Call.send): no timers of undici's.
          headersTimeout: 0,
          bodyTimeout: 0,
          pipelining: 1,
        }),
        busy: 0,
      };
      pool.connections.push(connection);
    }
    const used = connection;
    const owner = pool;
    used.busy++;
    handler.release = () => {
      used.busy--;
      owner.usedAt = Date.now();
    };
    used.client.dispatch(options, handler);
  }

  /** Keys unused for two idle timeouts, nothing under way: their clients closed and forgotten. */
  #sweep(): void {
    const before = Date.now() - 2 * IDLE_CONNECTION_MS;
    for (const [key, pool] of this.#pools) {
      if (pool.usedAt > before || pool.connections.some((c) => c.busy > 0)) continue;
      this.#pools.delete(key);
      for (const { client } of pool.connections) void client.close().catch(() => undefined);
    }
    if (this.#pools.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** Keys kept now, and their connections (tests). */
  get sizes(): number[] {
    return [...this.#pools.values()].map((p) => p.connections.length);
  }

  /** Closes every connection (tests). */
  async close(): Promise<void> {
    const all = [...this.#pools.values()].flatMap((p) => p.connections.map((c) => c.client));
    this.#pools.clear();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await Promise.all(all.map((c) => c.destroy()));
  }
}

/** Judged address literals per allow list (`address|port` → allowed): isAllowedAddress is pure. */
const judgedLiterals = new WeakMap<AllowedTargets, Map<string, boolean>>();
/** Literals judged and kept per allow list, at most; past that they are judged anew. */
const MAX_JUDGED = 1_024;

/** isAllowedAddress of an address literal, kept: a connector's deliveries call the same one again and again. */
function allowedLiteral(allow: AllowedTargets, literal: PinnedAddress, port: number): boolean {
  let judged = judgedLiterals.get(allow);
  if (judged === undefined) {
    judged = new Map();
    judgedLiterals.set(allow, judged);
  }
  const key = `${literal.address}|${port}`;
  const known = judged.get(key);
  if (known !== undefined) return known;
  const allowed = isAllowedAddress(literal.address, literal.family, undefined, allow, port);
  if (judged.size >= MAX_JUDGED) judged.clear();
  judged.set(key, allowed);
  return allowed;
}

/** Addresses a call checked: never none. */
export type CheckedAddresses = readonly [PinnedAddress, ...PinnedAddress[]];

export class Call {
  private readonly deadline: number;
  /** Which limit a timeout message names. */
  private readonly limit: string;
  /** Addresses per normalised host name, resolved once per call. */
  private readonly resolved = new Map<string, CheckedAddresses>();

  /** Ends at `timeoutMs` from now, or earlier at the caller's `deadline` (epoch ms). */
  constructor(
    private readonly allow: AllowedTargets,
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
    deadline?: number,
  ) {
    const own = Date.now() + timeoutMs;
    this.deadline = deadline === undefined ? own : Math.min(own, deadline);
    this.limit = this.deadline < own ? "before the caller's deadline" : `within ${timeoutMs} ms`;
  }

  private remaining(url: URL): number {
    const left = this.deadline - Date.now();
    if (left <= 0) throw timeoutError(url, this.limit);
    return left;
  }

  /**
   * The checked address of a URL whose host is an address literal, judged at once (nothing to
   * look up: no promise to wait for), or a RefusedAddressError; undefined for a host name.
   */
  checkLiteral(url: URL): CheckedAddresses | undefined {
    const literal = literalAddress(url);
    if (literal === undefined) return undefined;
    if (!allowedLiteral(this.allow, literal, portOf(url))) {
      throw new RefusedAddressError(
        `refused: ${url.hostname} is not a public address (${refusedAs(literal.address)})`,
      );
    }
    // Stryker disable next-line ArrayDeclaration: equivalent: Node looks up no address literal, and the literal, as host, already sets its connections apart
    return [literal];
  }

  /** The checked addresses to connect to, or an OutboundError. */
  async check(url: URL): Promise<CheckedAddresses> {
    const literal = this.checkLiteral(url);
    if (literal !== undefined) return literal;
    const port = portOf(url);
    const name = normalizeHostName(url.hostname);
    const addresses = this.resolved.get(name) ?? (await this.resolve(url, name));
    this.resolved.set(name, addresses);
    for (const { address, family } of addresses) {
      if (!isAllowedAddress(address, family, name, this.allow, port)) {
        // Not the address itself: what a name resolves to inside our network is not the caller's to learn.
        throw new RefusedAddressError(
          `refused: ${name} resolves to an address that is not public (${refusedAs(address)})`,
        );
      }
    }
    return addresses;
  }

  private async resolve(url: URL, name: string): Promise<CheckedAddresses> {
    const lookupName = isLocalhostName(name) ? 'localhost' : url.hostname;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(url, this.limit)), this.remaining(url));
    });
    try {
      const found = await Promise.race([dns.promises.lookup(lookupName, { all: true }), expiry]);
      const [first, ...rest] = found.filter((a): a is PinnedAddress => a.family === 4 || a.family === 6);
      if (first === undefined)
        throw new OutboundError('dns', `could not resolve ${url.hostname} (no address)`);
      return [first, ...rest];
    } catch (error) {
      throw classify(error, url, this.limit);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One HTTP exchange to already-checked addresses; over a connection of `pool` when one is given
   * (a keep-alive connection of that pool to those addresses, free or new).
   */
  send(
    hop: Hop,
    addresses: CheckedAddresses,
    pool?: { readonly pools: ConnectionPools; readonly name: string },
  ): Promise<RawResponse> {
    if (pool === undefined) return this.sendAlone(hop, addresses);
    if (!pool.pools.loaded) {
      const { url } = hop;
      this.remaining(url);
      return pool.pools.ready().then(
        () => this.send(hop, addresses, pool),
        (error: unknown) => {
          throw classify(error, url, this.limit);
        },
      );
    }
    return this.sendPooled(hop, addresses, pool.pools, pool.name);
  }

  private sendPooled(
    hop: Hop,
    addresses: CheckedAddresses,
    pools: ConnectionPools,
    name: string,
  ): Promise<RawResponse> {
    const { url } = hop;
    const remaining = this.remaining(url);
    const headers: string[] = [];
    for (const header in hop.headers) headers.push(header, hop.headers[header] as string);
    return new Promise<RawResponse>((resolve, reject) => {
      const exchange = new PooledExchange(url, this.limit, this.maxBytes, resolve, reject, remaining);
      try {
        pools.dispatch(
          poolKey(name, url, addresses),
          url,
          addresses,
          this.timeoutMs,
          { path: `${url.pathname}${url.search}`, method: hop.method, headers, body: hop.body ?? null },
          exchange,
        );
      } catch (error) {
        exchange.onError(error as Error);
      }
    });
  }

  /** One exchange over a connection of its own, closed after it (`Connection: close`). */
  private sendAlone(hop: Hop, addresses: CheckedAddresses): Promise<RawResponse> {
    const { url } = hop;
    const remaining = this.remaining(url);
    const literal = literalAddress(url);
    let headers: string[] | Record<string, string> | undefined = headerLines(hop);
    if (headers === undefined) headers = { ...hop.headers };
    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname: literal?.address ?? url.hostname,
      port: portOf(url),
      path: `${url.pathname}${url.search}`,
      method: hop.method,
      headers,
      lookup: pinnedLookup(addresses),
      // TLS SNI and the certificate's name: the host name without a trailing dot; none for an
      // address (plain HTTP ignores it).
      ...(literal === undefined ? { servername: normalizeHostName(url.hostname) } : {}),
      agent: false,
    };

    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      let request: http.ClientRequest | undefined;
      const timer = setTimeout(() => fail(timeoutError(url, this.limit)), remaining);
      const fail = (error: unknown) => {
        // Stryker disable next-line ConditionalExpression: equivalent: a promise settles once, and clearing the timer or destroying the request again changes nothing
        if (settled) return;
        // Stryker disable next-line BooleanLiteral: equivalent (see above)
        settled = true;
        clearTimeout(timer);
        request?.destroy();
        reject(classify(error, url, this.limit));
      };
      const succeed = (response: RawResponse) => {
        // Stryker disable next-line ConditionalExpression: equivalent (see above)
        if (settled) return;
        // Stryker disable next-line BooleanLiteral: equivalent (see above)
        settled = true;
        clearTimeout(timer);
        // Node closes a connection of no pool (`Connection: close`).
        resolve(response);
      };
      const tooLarge = () => tooLargeError(url, this.maxBytes);

      try {
        request = (url.protocol === 'https:' ? httpsLoaded() : http).request(options);
      } catch (error) {
        fail(error);
        return;
      }
      request.on('error', fail);
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        const { headers: responseHeaders, length } = collectHeaders(response.rawHeaders);
        const declared = Number(length);
        if (Number.isFinite(declared) && declared > this.maxBytes) {
          fail(tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxBytes) fail(tooLarge());
          else chunks.push(chunk);
        });
        // Also an answer cut short: Node emits `aborted` (ECONNRESET) to a listener.
        response.on('error', fail);
        response.on('end', () => {
          succeed({
            status,
            // Stryker disable next-line StringLiteral: unreachable: Node sets the reason phrase of every answer it parsed ('' for none)
            statusMessage: response.statusMessage ?? '',
            headers: responseHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      });
      request.end(hop.body);
    });
  }
}

function tooLargeError(url: URL, maxBytes: number): OutboundError {
  return new OutboundError('too_large', `the answer from ${where(url)} exceeds ${maxBytes} bytes`);
}

/**
 * One pooled exchange as undici's dispatcher drives it (its handler): the answer read whole, at
 * most `maxBytes` of it, by one deadline; a failure classified as node:http's are (the same
 * messages: host and code, never the library's text).
 */
class PooledExchange {
  /** Frees the connection for the next exchange: once, when undici is done with this one. */
  release: (() => void) | undefined;
  #settled = false;
  #abort: ((error?: Error) => void) | undefined;
  #timer: NodeJS.Timeout;
  #status = 0;
  #statusMessage = '';
  #headers: Record<string, string> = {};
  #chunks: Buffer[] = [];
  #size = 0;
  /** Whether the answer's head arrived (a connection closed before it is a hang-up). */
  #answered = false;

  constructor(
    private readonly url: URL,
    private readonly limit: string,
    private readonly maxBytes: number,
    private readonly resolve: (response: RawResponse) => void,
    private readonly reject: (error: OutboundError) => void,
    remaining: number,
  ) {
    this.#timer = setTimeout(() => this.#fail(timeoutError(url, limit)), remaining);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    // Aborting closes the connection (an answer not read whole cannot be followed by another).
    this.#abort?.(error instanceof Error ? error : undefined);
    this.reject(this.#classify(error));
  }

  #classify(error: unknown): OutboundError {
    const code = errorCode(error);
    // The other side closed the connection: before any answer a hang-up, after its head an answer
    // cut short (node:http's `socket hang up` and `aborted`, both ECONNRESET).
    if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') {
      return this.#answered
        ? new OutboundError(
            'connect',
            `could not talk to ${where(this.url)}: ${CONNECT_CODES.get('ECONNRESET')} (ECONNRESET)`,
          )
        : new OutboundError('connect', `${where(this.url)} hung up without answering`);
    }
    return classify(error, this.url, this.limit);
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    // Timed out while waiting for a connection: never sent.
    if (this.#settled) abort();
  }

  onHeaders(status: number, raw: Buffer[], _resume: () => void, statusMessage: string): boolean {
    if (this.#settled) return false;
    this.#answered = true;
    this.#status = status;
    this.#statusMessage = statusMessage;
    const lines: string[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) lines[i] = (raw[i] as Buffer).toString('latin1');
    const { headers, length } = collectHeaders(lines);
    this.#headers = headers;
    const declared = Number(length);
    if (Number.isFinite(declared) && declared > this.maxBytes) {
      this.#fail(tooLargeError(this.url, this.maxBytes));
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#settled) return false;
    this.#size += chunk.length;
    if (this.#size > this.maxBytes) {
      this.#fail(tooLargeError(this.url, this.maxBytes));
      return false;
    }
    this.#chunks.push(chunk);
    return true;
  }

  #released(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  onComplete(): void {
    this.#released();
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    const chunks = this.#chunks;
    this.resolve({
      status: this.#status,
      statusMessage: this.#statusMessage,
      headers: this.#headers,
      body:
        chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
    });
  }

  onError(error: Error): void {
    this.#released();
    this.#fail(error);
  }
}
