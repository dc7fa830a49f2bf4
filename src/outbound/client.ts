import http from 'node:http';
import { normalizeHostName } from './addresses.js';
import { NO_ALLOWED_TARGETS, parseAllowedTargets } from './allowed-targets.js';
import { Call, ConnectionPools, type Hop, where } from './exchange.js';
import {
  OUTBOUND_METHODS,
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
 * - The time limit covers the whole call (DNS, connect, TLS, redirects, body); a request's `deadline`
 *   can end it earlier, so that several calls of one task share one limit. At most `maxBytes` of
 *   body are read; a declared or actual larger body fails with `too_large` and closes the connection.
 * - No connection reuse (node:http, `agent: false`, `Connection: close`) unless the request names
 *   a `pool`: then keep-alive connections (undici's HTTP/1.1 client) are shared by the calls of
 *   that pool only, and only between calls whose address
 *   checks allowed the same addresses; each call still resolves and checks its host, so a reused
 *   connection leads to an address the reusing call checked (exchange.ts, ConnectionPools).
 * - `User-Agent: Plugboard-Check/1` (or the request's `userAgent`), no headers but the caller's
 *   (minus hop-by-hop ones and Host, which are set here), no proxy.
 * - Error messages name the host (and port) and what happened, never the path, query, userinfo or a
 *   header, nor the addresses a host name resolved to. A header value HTTP cannot carry is refused
 *   (`invalid_header`) before anything is sent.
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

function refuseHeader(name: string, value: string): void {
  try {
    http.validateHeaderName(name);
    http.validateHeaderValue(name, value);
  } catch {
    throw new OutboundError(
      'invalid_header',
      'refused: a request header holds characters that HTTP headers cannot carry; nothing was sent',
    );
  }
}

/**
 * The headers sent, each name once: a name given twice in different cases (`accept`, `Accept`)
 * is one header where the first stood, with the last one's name and value, as Node's setHeader
 * made it (the exchange hands Node the lines whole: exchange.ts, headerLines).
 */
function requestHeaders(
  given: Readonly<Record<string, string>> | undefined,
  userAgent = USER_AGENT,
): Record<string, string> {
  let headers: Record<string, string> = {};
  /** The name each lower-cased name is sent under. */
  const named = new Map<string, string>();
  const put = (name: string, value: string) => {
    refuseHeader(name, value);
    const lower = name.toLowerCase();
    if (MANAGED_HEADERS.has(lower)) return;
    const before = named.get(lower);
    named.set(lower, name);
    if (before === undefined || before === name) {
      headers[name] = value;
      return;
    }
    const renamed: Record<string, string> = {};
    for (const key in headers) {
      if (key === before) renamed[name] = value;
      else renamed[key] = headers[key] as string;
    }
    headers = renamed;
  };
  if (given !== undefined) {
    for (const name of Object.keys(given)) if (name !== 'User-Agent') put(name, given[name] as string);
  }
  // Where the caller's own `User-Agent` stood, else last (and validated, as any other).
  refuseHeader('User-Agent', userAgent);
  headers['User-Agent'] = userAgent;
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

  const pools = new ConnectionPools();
  /**
   * The last URL text parsed, and its URL: a connector's deliveries call the same URL again and
   * again. Never changed once made (the redirects and the exchange make their own).
   */
  let lastText: string | undefined;
  let lastUrl: URL | undefined;
  return {
    timeoutMs,
    maxBytes,
    async request(request: OutboundRequest): Promise<OutboundResponse> {
      if (!OUTBOUND_METHODS.includes(request.method)) {
        throw new OutboundError('protocol', `refused: only ${OUTBOUND_METHODS.join(', ')} are supported`);
      }
      let url = request.url === lastText && lastUrl !== undefined ? lastUrl : parseTarget(request.url);
      lastText = request.url;
      lastUrl = url;
      if (url.username !== '' || url.password !== '') {
        throw new OutboundError(
          'blocked',
          `refused: the URL for ${where(url)} carries a user name or password; send credentials in a header`,
        );
      }
      const call = new Call(allow, timeoutMs, maxBytes, request.deadline);
      let hop: Hop = {
        url,
        method: request.method,
        headers: requestHeaders(request.headers, request.userAgent),
        body: request.body,
      };
      for (let redirects = 0; ; redirects++) {
        const addresses = call.checkLiteral(url) ?? (await call.check(url));
        const response = await call.send(
          hop,
          addresses,
          request.pool === undefined ? undefined : { pools, name: request.pool },
        );
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
