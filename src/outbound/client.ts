import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import {
  type AllowedTargets,
  type IpFamily,
  isAllowedAddress,
  NO_ALLOWED_TARGETS,
  normalizeHostName,
  parseAllowedTargets,
  refusalReason,
} from './addresses.js';
import {
  type OutboundClient,
  OutboundError,
  type OutboundOptions,
  type OutboundRequest,
  type OutboundResponse,
} from './types.js';

/**
 * The SSRF-safe outbound HTTP client.
 *
 * - Only absolute http:/https: URLs. A URL with a user name or password is refused (`blocked`):
 *   credentials go in headers, never in URLs, so they cannot end up in logs or error messages.
 * - IP-literal hosts (WHATWG already normalises decimal, octal, hex and short IPv4 forms) are judged
 *   directly. A host name is resolved once per call (`dns.lookup`, all addresses); if any address is
 *   refused the call is `blocked` (unless the name itself is allowed). The connection then goes to the
 *   checked addresses only — a pinned `lookup` replaces DNS in the socket — while the Host header and
 *   TLS SNI / certificate checks keep the name. `localhost` and `*.localhost` resolve as `localhost`.
 * - Redirects: followed only to the same host — same host name, and same scheme and port or the
 *   upgrade from http on its default port to https on its default port — at most `maxRedirects` times,
 *   each re-checked against the (already resolved) addresses. Any other redirect (another host, another
 *   port, https → http, another scheme, a malformed Location) and a redirect beyond the limit is NOT
 *   followed: the 3xx response is returned as is (status, headers including `location`, body), and it is
 *   up to the caller to treat it as a failed check. 301/302/303 turn a POST into a body-less GET.
 * - The time limit covers the whole call (DNS, connect, TLS, redirects, body). At most `maxBytes` of
 *   body are read; a declared or actual larger body fails with `too_large` and closes the connection.
 * - No connection reuse (`agent: false`), `User-Agent: Plugboard-Check/1`, no headers but the caller's
 *   (minus hop-by-hop ones and Host, which are set here), no proxy.
 * - Error messages name the host (and port) and what happened, never the path, query, userinfo or a
 *   header.
 */

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_MAX_REDIRECTS = 3;
const USER_AGENT = 'Plugboard-Check/1';
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Set by the client itself, whatever the caller sends. */
const MANAGED_HEADERS = new Set([
  'host',
  'user-agent',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
]);

interface PinnedAddress {
  readonly address: string;
  readonly family: IpFamily;
}

interface Hop {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** `host[:port]` as shown in messages — no userinfo, path or query. */
function where(url: URL): string {
  return url.host;
}

function timeoutError(url: URL, timeoutMs: number): OutboundError {
  return new OutboundError('timeout', `no complete answer from ${where(url)} within ${timeoutMs} ms`);
}

function parseTarget(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OutboundError('blocked', 'refused: the target is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundError(
      'blocked',
      `refused: only http: and https: URLs are allowed, not ${url.protocol}`,
    );
  }
  if (url.hostname === '') throw new OutboundError('blocked', 'refused: the URL has no host');
  return url;
}

function withoutUserinfo(url: URL): URL {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy;
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

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA']);
const CONNECT_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection closed without a complete answer',
  EPIPE: 'connection closed while sending',
  ECONNABORTED: 'connection aborted',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'address not available',
};

/** Maps a Node error to an OutboundError; the message never repeats Node's (which may quote more). */
function classify(error: unknown, url: URL, timeoutMs: number): OutboundError {
  if (error instanceof OutboundError) return error;
  const code = errorCode(error);
  if (code !== undefined && DNS_CODES.has(code)) {
    return new OutboundError('dns', `could not resolve ${url.hostname} (${code})`);
  }
  if (code !== undefined && code in CONNECT_CODES) {
    return new OutboundError('connect', `could not talk to ${where(url)}: ${CONNECT_CODES[code]} (${code})`);
  }
  if (code === 'ETIMEDOUT' || code === 'ERR_SOCKET_CONNECTION_TIMEOUT') return timeoutError(url, timeoutMs);
  if (code?.startsWith('HPE_')) {
    return new OutboundError('protocol', `malformed HTTP answer from ${where(url)} (${code})`);
  }
  if (error instanceof Error && error.message === 'socket hang up') {
    return new OutboundError('connect', `${where(url)} hung up without answering`);
  }
  const tls = url.protocol === 'https:' ? 'TLS or HTTP failure' : 'HTTP failure';
  return new OutboundError('protocol', `${tls} talking to ${where(url)}${code ? ` (${code})` : ''}`);
}

function collectHeaders(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return headers;
}

function requestHeaders(given: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given ?? {})) {
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      throw new OutboundError('protocol', 'refused: a request header has an invalid name or value');
    }
    if (!MANAGED_HEADERS.has(name.toLowerCase())) headers[name] = value;
  }
  headers['User-Agent'] = USER_AGENT;
  return headers;
}

function sameHost(from: URL, to: URL): boolean {
  if (normalizeHostName(from.hostname) !== normalizeHostName(to.hostname)) return false;
  if (from.protocol === to.protocol) return from.port === to.port;
  return from.protocol === 'http:' && to.protocol === 'https:' && from.port === '' && to.port === '';
}

/** A 3xx that is followed, or undefined when the response is final. */
function redirectTarget(status: number, headers: Record<string, string>, current: URL): URL | undefined {
  const location = headers.location;
  if (!REDIRECT_STATUSES.has(status) || location === undefined) return undefined;
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    return undefined;
  }
  if ((next.protocol !== 'http:' && next.protocol !== 'https:') || !sameHost(current, next)) return undefined;
  return withoutUserinfo(next);
}

class Call {
  private readonly deadline: number;
  /** Addresses per normalised host name, resolved once per call. */
  private readonly resolved = new Map<string, readonly PinnedAddress[]>();

  constructor(
    private readonly allow: AllowedTargets,
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
  ) {
    this.deadline = Date.now() + timeoutMs;
  }

  private remaining(url: URL): number {
    const left = this.deadline - Date.now();
    if (left <= 0) throw timeoutError(url, this.timeoutMs);
    return left;
  }

  /** The checked addresses to connect to, or an OutboundError. */
  async check(url: URL): Promise<readonly PinnedAddress[]> {
    const literal = literalAddress(url);
    if (literal !== undefined) {
      if (!isAllowedAddress(literal.address, literal.family, undefined, this.allow)) {
        const reason = refusalReason(literal.address) ?? 'refused';
        throw new OutboundError('blocked', `refused: ${url.hostname} is not a public address (${reason})`);
      }
      return [literal];
    }
    const name = normalizeHostName(url.hostname);
    const addresses = this.resolved.get(name) ?? (await this.resolve(url, name));
    this.resolved.set(name, addresses);
    for (const { address, family } of addresses) {
      if (!isAllowedAddress(address, family, name, this.allow)) {
        const reason = refusalReason(address) ?? 'refused';
        throw new OutboundError(
          'blocked',
          `refused: ${name} resolves to ${address}, not a public address (${reason})`,
        );
      }
    }
    return addresses;
  }

  private async resolve(url: URL, name: string): Promise<readonly PinnedAddress[]> {
    const lookupName = isLocalhostName(name) ? 'localhost' : url.hostname;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(url, this.timeoutMs)), this.remaining(url));
    });
    try {
      const found = await Promise.race([dns.promises.lookup(lookupName, { all: true }), expiry]);
      const usable = found.filter((a): a is PinnedAddress => a.family === 4 || a.family === 6);
      if (usable.length === 0)
        throw new OutboundError('dns', `could not resolve ${url.hostname} (no address)`);
      return usable;
    } catch (error) {
      throw classify(error, url, this.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One HTTP exchange to already-checked addresses. */
  send(hop: Hop, addresses: readonly PinnedAddress[]): Promise<RawResponse> {
    const { url } = hop;
    const remaining = this.remaining(url);
    const [first] = addresses;
    if (first === undefined)
      return Promise.reject(new OutboundError('dns', `no address for ${url.hostname}`));
    const pinnedLookup: net.LookupFunction = (_hostname, options, callback) => {
      if (options.all)
        callback(
          null,
          addresses.map((a) => ({ address: a.address, family: a.family })),
        );
      else callback(null, first.address, first.family);
    };
    const literal = literalAddress(url);
    const headers = { ...hop.headers };
    if (hop.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(hop.body));
    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname: literal?.address ?? url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: hop.method,
      headers,
      agent: false,
      lookup: pinnedLookup,
    };
    if (url.protocol === 'https:' && literal === undefined)
      options.servername = normalizeHostName(url.hostname);

    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      let request: http.ClientRequest | undefined;
      const timer = setTimeout(() => fail(timeoutError(url, this.timeoutMs)), remaining);
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request?.destroy();
        reject(classify(error, url, this.timeoutMs));
      };
      const succeed = (response: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request?.destroy();
        resolve(response);
      };
      const tooLarge = () =>
        new OutboundError('too_large', `the answer from ${where(url)} exceeds ${this.maxBytes} bytes`);

      try {
        request = (url.protocol === 'https:' ? https : http).request(options);
      } catch (error) {
        fail(error);
        return;
      }
      request.on('error', fail);
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        const responseHeaders = collectHeaders(response.rawHeaders);
        const declared = Number(response.headers['content-length']);
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
        response.on('error', fail);
        response.on('end', () => {
          succeed({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('close', () => {
          if (!response.complete) fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
        });
      });
      request.end(hop.body);
    });
  }
}

export function createOutboundClient(options: OutboundOptions = {}): OutboundClient {
  const allow = options.allowedTargets ? parseAllowedTargets(options.allowedTargets) : NO_ALLOWED_TARGETS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  for (const [name, value] of [
    ['timeoutMs', timeoutMs],
    ['maxBytes', maxBytes],
    ['maxRedirects', maxRedirects],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < (name === 'maxRedirects' ? 0 : 1)) {
      throw new Error(
        `outbound client: ${name} must be a ${name === 'maxRedirects' ? 'non-negative' : 'positive'} integer`,
      );
    }
  }

  return {
    async request(request: OutboundRequest): Promise<OutboundResponse> {
      if (request.method !== 'GET' && request.method !== 'POST') {
        throw new OutboundError('protocol', 'refused: only GET and POST are supported');
      }
      let url = parseTarget(request.url);
      if (url.username !== '' || url.password !== '') {
        throw new OutboundError(
          'blocked',
          `refused: the URL for ${where(url)} carries a user name or password; send credentials in a header`,
        );
      }
      const call = new Call(allow, timeoutMs, maxBytes);
      let hop: Hop = {
        url,
        method: request.method,
        headers: requestHeaders(request.headers),
        body: request.body,
      };
      for (let redirects = 0; ; redirects++) {
        const addresses = await call.check(url);
        const response = await call.send(hop, addresses);
        const next =
          redirects < maxRedirects ? redirectTarget(response.status, response.headers, url) : undefined;
        if (next === undefined) return { ...response, url: url.href };
        const keepsMethod = response.status === 307 || response.status === 308 || hop.method === 'GET';
        const headers = { ...hop.headers };
        if (!keepsMethod) {
          for (const name of Object.keys(headers))
            if (name.toLowerCase() === 'content-type') delete headers[name];
        }
        url = next;
        hop = keepsMethod ? { ...hop, url, headers } : { url, method: 'GET', headers, body: undefined };
      }
    },
  };
}
