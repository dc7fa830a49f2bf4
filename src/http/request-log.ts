import { randomUUID } from 'node:crypto';
import { type IncomingMessage, METHODS } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawRequestDefaultExpression,
} from 'fastify';
import { pino } from 'pino';

declare module 'fastify' {
  interface FastifyInstance {
    /** Told of every answered request, as it is logged (the metrics' request histogram). */
    observeRequest: RequestObserver;
  }
}

/**
 * Told of each answered request: the matched route pattern (undefined: none), method, status and
 * seconds taken (null for a request refused on the socket, 408, 431 or bad HTTP, whose start is
 * not known).
 */
export type RequestObserver = (
  route: string | undefined,
  method: string,
  status: number,
  seconds: number | null,
) => void;

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);
/**
 * The method as observed: one Node.js knows, else `OTHER`. A refused request's line can start with
 * any upper-case word, and each distinct one would be a new series in the metrics.
 */
const observedMethod = (method: string | null | undefined) =>
  method && KNOWN_METHODS.has(method) ? method : 'OTHER';

const acceptableRequestId = /^[\w.:-]{1,128}$/;
/** A URL can be kilobytes long (that is what a 414 is about); the line keeps its start. */
const MAX_LOGGED_URL = 1024;

/** Uses the caller's X-Request-Id when it is a sane token, else a new UUID. */
export function requestIdFor(request: RawRequestDefaultExpression): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && acceptableRequestId.test(given) ? given : randomUUID();
}

/** The fields of a request line besides the request id, which the logger binds as `requestId`. */
interface RequestLine {
  readonly method: string | null;
  readonly route: string | null;
  readonly url: string | null;
  readonly status: number;
  readonly latencyMs: number | null;
  readonly account: string | null;
}

/** Query parameters whose values are logged as sent: the paging parameters, never secret. */
const LOGGED_VALUES: ReadonlySet<string> = new Set(['start-index', 'max-results']);
/**
 * A parameter name that is logged (with its value redacted): a short word such as `api_key` or
 * `maxResults`. Anything longer than 15 characters or of other characters could itself be a key
 * sent as a bare `?<key>` (PLUGBOARD_API_KEY has at least 16 characters) and is redacted whole.
 */
const LOGGED_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;
export const REDACTED = '[redacted]';

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}

/**
 * The URL as logged: the path as sent; in the query, the paging parameters as sent and every other
 * value replaced by `[redacted]`. API keys are never accepted in a query string, but a client that
 * sends one there (`?api_key=…`, `?access_token=…`, `?token=…`) must not get it into the log.
 */
export function loggedUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const query = url
    .slice(at + 1)
    .split('&')
    .map((part) => {
      if (part === '') return part;
      const equals = part.indexOf('=');
      const name = equals < 0 ? part : part.slice(0, equals);
      if (LOGGED_VALUES.has(decodedName(name))) return part;
      if (!LOGGED_NAME.test(name)) return REDACTED;
      return equals < 0 ? name : `${name}=${REDACTED}`;
    })
    .join('&');
  return `${url.slice(0, at)}?${query}`;
}

const shortUrl = (raw: string) => {
  const url = loggedUrl(raw);
  return url.length > MAX_LOGGED_URL ? `${url.slice(0, MAX_LOGGED_URL)}…` : url;
};
const milliseconds = (ms: number) => Math.round(ms * 100) / 100;

/** Sockets whose request was answered (and logged) before all of it arrived, until the rest has. */
const answeredBeforeArrival = new WeakSet<Socket>();

function noteAnswered(request: IncomingMessage): void {
  if (request.complete) return;
  const { socket } = request;
  answeredBeforeArrival.add(socket);
  request.once('end', () => answeredBeforeArrival.delete(socket));
}

/**
 * Whether the request now on this socket was answered and logged before all of it arrived (a 401
 * sent before the body): a timeout waiting for the rest must not answer or log it again.
 */
export function answeredEarly(socket: Socket): boolean {
  return answeredBeforeArrival.has(socket);
}

function logRequest(request: FastifyRequest, status: number, latencyMs: number): void {
  noteAnswered(request.raw);
  // Read once: each read of routeOptions builds a new object of a dozen fields.
  const route = request.routeOptions.url;
  const line: RequestLine = {
    method: request.method,
    route: route ?? null,
    url: shortUrl(request.url),
    status,
    latencyMs: milliseconds(latencyMs),
    account: request.principal?.accountName ?? null,
  };
  request.log.info(line, 'request');
  request.server.observeRequest(route, observedMethod(request.method), status, latencyMs / 1000);
}

/**
 * One log line per request, written when the response is done: method, route, URL (query values
 * redacted but the paging parameters', see loggedUrl), status, latency, account and request id
 * (bound by Fastify as `requestId`). Headers and bodies are never logged. `observe` is told of
 * each request logged (the metrics).
 * Requests that Fastify's hooks never see get the same line from logRequestWhenDone and
 * logRefusedRequest.
 */
export function installRequestLog(app: FastifyInstance, observe: RequestObserver = () => {}): void {
  app.decorate('observeRequest', observe);
  // Callback hooks, as every hook on the read path: an async one costs a promise and a turn of the
  // microtask queue per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    logRequest(request, reply.statusCode, reply.elapsedTime);
    done();
  });
}

/**
 * The request line for a reply that runs no hooks: one answered by Fastify's `frameworkErrors`
 * (a path segment over maxParamLength, a malformed percent-encoding), raised by its router
 * before any hook. Written once, when the response is done or its connection is gone.
 */
export function logRequestWhenDone(request: FastifyRequest, reply: FastifyReply): void {
  const started = performance.now();
  let logged = false;
  const done = () => {
    if (logged) return;
    logged = true;
    logRequest(request, reply.statusCode, performance.now() - started);
  };
  reply.raw.once('finish', done);
  reply.raw.once('close', done);
}

/** `METHOD /target HTTP/1.x` at the start of what a refused client sent, if it is there. */
const requestLinePattern = /^([A-Z]{1,20}) ([\x21-\x7e]{1,8192}) HTTP\/1\.[01]\r?\n/;

/**
 * The request line for what Node refused before any request existed (a timeout, oversized
 * headers, bad HTTP): the status and what is known. Method and URL come from the request line
 * when the refused bytes start with one; headers (Authorization among them) and bodies never.
 */
export function logRefusedRequest(
  log: FastifyBaseLogger,
  observe: RequestObserver,
  refused: { requestId: string; status: number; error: string; rawPacket?: Buffer | undefined },
): void {
  const start = refused.rawPacket?.subarray(0, 8300).toString('latin1') ?? '';
  const match = requestLinePattern.exec(start);
  const line: RequestLine & { requestId: string; error: string } = {
    method: match?.[1] ?? null,
    route: null,
    url: match?.[2] === undefined ? null : shortUrl(match[2]),
    status: refused.status,
    latencyMs: null,
    account: null,
    requestId: refused.requestId,
    error: refused.error,
  };
  log.info(line, 'request');
  observe(undefined, observedMethod(line.method), refused.status, null);
}

/** Writes the request line of a GET answered before Fastify (fast-reads.ts), as `log.info` would. */
export type GetLineWriter = (
  requestId: string,
  route: string,
  url: string,
  latencyMs: number,
  account: string,
) => void;

/** Printable ASCII but `"` and `\`: what pino writes as it is, between quotes, as JSON.stringify would. */
const PLAIN_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** The pino internals the line is made with (pino.symbols, pino's public names for them). */
interface PinoInternals {
  readonly [key: symbol]: unknown;
}

/**
 * The request line of a GET answered before Fastify, made as text: the bytes pino makes of
 * `log.info({ requestId, method: 'GET', route, url, status: 200, latencyMs, account }, 'request')`
 * (its level, time and bindings, the fields in that order, the message), handed to the logger's
 * own destination. pino's general path (the object, a loop over its keys with a type switch per
 * value, its string escaping a character at a time, the redaction's check per key) was ~2 µs of a
 * GET's ~45 (issue 15).
 *
 * Made so only when every part is plain: the logger has no mixin, hook, message prefix or
 * destination that wants the line's fields (pretty-printers), a line made here for a sample is the
 * very text pino's own asJson makes of it (checked once: the bindings, the level's and time's
 * fields, redaction or serializers for these keys, the message key, the end of line), and each
 * string is printable ASCII without quotes or backslashes (which pino writes as it is). Any other
 * line goes through `log.info` as before.
 */
export function getLineWriter(log: FastifyBaseLogger): GetLineWriter {
  const general: GetLineWriter = (requestId, route, url, latencyMs, account) =>
    log.info({ requestId, method: 'GET', route, url, status: 200, latencyMs, account }, 'request');
  const { symbols } = pino;
  const logger = log as unknown as PinoInternals & { levels?: { values?: Record<string, number> } };
  const stream = logger[symbols.streamSym] as { write?: (line: string) => unknown } | undefined;
  const levelCache = logger[symbols.lsCacheSym] as Record<number, string> | undefined;
  const hooks = logger[symbols.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const info = logger.levels?.values?.info;
  const time = logger[symbols.timeSym];
  const asJson = logger[symbols.asJsonSym];
  if (
    typeof stream?.write !== 'function' ||
    (stream as PinoInternals)[symbols.needsMetadataGsym] === true ||
    logger[symbols.mixinSym] ||
    hooks?.logMethod ||
    hooks?.streamWrite ||
    // In pino's symbols, not in their types.
    typeof logger[(symbols as unknown as Record<string, symbol>).msgPrefixSym ?? Symbol()] === 'string' ||
    typeof info !== 'number' ||
    typeof levelCache?.[info] !== 'string' ||
    typeof time !== 'function' ||
    typeof asJson !== 'function' ||
    typeof logger[symbols.chindingsSym] !== 'string' ||
    typeof logger[symbols.endSym] !== 'string'
  ) {
    return general;
  }
  const head = levelCache[info] as string;
  const end = `,"msg":"request"${logger[symbols.endSym] as string}`;
  const make = (
    at: string,
    requestId: string,
    route: string,
    url: string,
    latencyMs: number,
    account: string,
  ) =>
    `${head}${at}${logger[symbols.chindingsSym] as string},"requestId":"${requestId}","method":"GET","route":"${route}","url":"${url}","status":200,"latencyMs":${latencyMs},"account":"${account}"${end}`;
  const sample = [
    '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9',
    '/api/connectors/:id',
    '/api/connectors/AbC_-9',
    1.25,
    'acme',
  ] as const;
  const sampleTime = ',"time":"2026-01-01T00:00:00.000Z"';
  const [sampleId, sampleRoute, sampleUrl, sampleLatency, sampleAccount] = sample;
  const expected = (asJson as (obj: object, msg: string, num: number, time: string) => unknown).call(
    log,
    {
      requestId: sampleId,
      method: 'GET',
      route: sampleRoute,
      url: sampleUrl,
      status: 200,
      latencyMs: sampleLatency,
      account: sampleAccount,
    },
    'request',
    info,
    sampleTime,
  );
  if (expected !== make(sampleTime, sampleId, sampleRoute, sampleUrl, sampleLatency, sampleAccount))
    return general;
  const write = stream.write.bind(stream);
  const levelVal = symbols.levelValSym;
  return (requestId, route, url, latencyMs, account) => {
    if ((logger[levelVal] as number) > info) return;
    if (
      !Number.isFinite(latencyMs) ||
      !PLAIN_TEXT.test(requestId) ||
      !PLAIN_TEXT.test(route) ||
      !PLAIN_TEXT.test(url) ||
      !PLAIN_TEXT.test(account)
    ) {
      general(requestId, route, url, latencyMs, account);
      return;
    }
    write(make((time as () => string).call(log), requestId, route, url, latencyMs, account));
  };
}
