/**
 * The generators of the hostile-input property test (hostile-input.test.ts): values (nasty text,
 * huge strings, wrong types, URLs to private hosts), connector bodies straight from the type
 * modules' declarations and their mutations, and whole requests (method, path, query, headers,
 * key, body) as `Command`s, which the model (hostile-model.ts) turns into requests.
 */
import http from 'node:http';
import fc from 'fast-check';
import type { ConnectorType, ParamSpec } from '../../src/connectors/define.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import { isRecord } from '../../src/is-record.js';

// ---------------------------------------------------------------------------------------------
// Values

/** URLs only ever point at private or loopback literals: a check refuses them without a lookup. */
const hosts = ['10.0.0.1', '192.168.7.9', '127.0.0.1', '[::1]', '172.16.0.5', '10.1.2.3:8443'];

const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const nastyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: fc.oneof(lone, fc.constant('a'), fc.constant('😀')), minLength: 1, maxLength: 8 }),
  fc.constantFrom(
    '',
    ' ',
    '\t',
    '\u0000',
    'a\u0000b',
    '\u202Eevil\u202C',
    'שלום עולם',
    'مرحبا',
    '\u200B',
    'e\u0301',
    '😀',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    '\ud800',
    'x\udfff',
    '\udc00\ud800',
    '\uFEFF',
    '\u2028\u2029',
    '\uFFFF',
    '../..',
    '%00',
    '<script>alert(1)</script>',
    "' or 1=1 --",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style probe, sent as is
    '${jndi:ldap://10.0.0.1/x}',
    '********',
    'null',
    'https://',
    'javascript:alert(1)',
    'http://10.0.0.1:99999/',
    'https://user:pw@10.0.0.1/',
    'HTTPS://10.0.0.1/',
    'ftp://10.0.0.1/',
    ' https://10.0.0.1/',
  ),
);

/** Sizes on both sides of the 64 KiB body limit; NUL is 6 bytes once JSON-escaped, 😀 is 4. */
const hugeText = fc
  .tuple(
    fc.constantFrom(300, 5_000, 60_000, 65_000, 66_000, 200_000),
    fc.constantFrom('a', 'é', '😀', '\u0000'),
  )
  .map(([size, unit]) => unit.repeat(Math.ceil(size / unit.length)));

const wrongType = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 1e308, [], {}, [''], { a: 'b' }),
  fc.integer(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
);

const hostileValue = fc.oneof(
  { weight: 4, arbitrary: nastyText },
  { weight: 1, arbitrary: hugeText },
  { weight: 3, arbitrary: wrongType },
);

function urlArb(): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom('http', 'https'),
      fc.constantFrom(...hosts),
      fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map(encodeURIComponent),
      fc.option(fc.constantFrom('access_token=abc', 'a=1&b=2', 'q=%F0%9F%98%80'), { nil: undefined }),
    )
    .map(([scheme, host, path, query]) => `${scheme}://${host}/${path}${query ? `?${query}` : ''}`);
}

const goodText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 });

function paramArb(spec: ParamSpec): fc.Arbitrary<string> {
  return spec.format === 'url' ? urlArb() : goodText;
}

export interface Body {
  type: string;
  name: string;
  params: Record<string, string>;
}

/** A valid body of a type, straight from its declaration: required params always, optional ones maybe. */
function validBodyArb(type: ConnectorType): fc.Arbitrary<Body> {
  const model: Record<string, fc.Arbitrary<string>> = {};
  for (const [name, spec] of Object.entries(type.params)) model[name] = paramArb(spec);
  return fc.record({
    type: fc.constant(type.id),
    name: fc.oneof(goodText, fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 255 })),
    params: fc.record(model, { requiredKeys: [...type.requiredParams] }) as fc.Arbitrary<
      Record<string, string>
    >,
  });
}

type Mutation =
  | { op: 'delete'; at: readonly string[] }
  | { op: 'set'; at: readonly string[]; value: unknown }
  | { op: 'replace'; value: unknown };

const extraKeys = fc.oneof(
  fc.constantFrom(
    'id',
    'createdAt',
    'updatedAt',
    'lastCheck',
    'api_key',
    'apikey',
    'URL',
    'extra',
    '__proto__',
    'constructor',
    'prototype',
    '',
    ' type',
    'TYPE',
    'params ',
  ),
  fc.string({ maxLength: 10 }),
);

function mutationArb(type: ConnectorType): fc.Arbitrary<Mutation> {
  const fields = ['type', 'name', 'params', ...type.paramNames.map((name) => `params.${name}`)];
  const at = fc.constantFrom(...fields).map((path) => path.split('.'));
  const typeValue = fc.oneof(
    fc.constantFrom(...connectorTypes.map((t) => t.id)),
    fc.constantFrom('JIRA', 'jira ', ' slack', 'datadog', 'aws_lambda', '', 'Slack', 'slack\u0000'),
  );
  return fc.oneof(
    at.map((path) => ({ op: 'delete' as const, at: path })),
    fc.record({ op: fc.constant('set' as const), at, value: hostileValue }),
    fc.record({ op: fc.constant('set' as const), at: fc.constant(['type']), value: typeValue }),
    fc.record({
      op: fc.constant('set' as const),
      at: fc
        .tuple(fc.constantFrom('', 'params'), extraKeys)
        .map(([parent, key]) => (parent ? [parent, key] : [key])),
      value: fc.oneof(nastyText, wrongType, urlArb()),
    }),
    // A URL with a hostile path: still a URL to a private host.
    fc.record({
      op: fc.constant('set' as const),
      at,
      value: fc.tuple(urlArb(), nastyText).map(([url, text]) => `${url}${text}`),
    }),
    { arbitrary: fc.record({ op: fc.constant('replace' as const), value: wrongType }), weight: 1 },
  );
}

/** Sets an own property, `__proto__` included (a plain assignment would change the prototype). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function applyMutations(body: Body, mutations: readonly Mutation[]): unknown {
  let result: unknown = structuredClone(body);
  for (const mutation of mutations) {
    // A copy: constants are shared between cases, and a later mutation could write into them.
    const value = structuredClone(mutation.op === 'delete' ? undefined : mutation.value);
    if (mutation.op === 'replace') {
      result = value;
      continue;
    }
    if (!isRecord(result)) continue;
    let parent: Record<string, unknown> = result;
    const path = mutation.at;
    for (const key of path.slice(0, -1)) {
      const child = parent[key];
      if (!isRecord(child)) {
        const fresh: Record<string, unknown> = {};
        define(parent, key, fresh);
        parent = fresh;
      } else parent = child;
    }
    const last = path[path.length - 1] ?? '';
    if (mutation.op === 'delete') delete parent[last];
    else define(parent, last, value);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Requests

export type KeyName = 'write' | 'read' | 'otherWrite' | 'otherRead';
export type Auth = { kind: 'key'; key: KeyName } | { kind: 'none' } | { kind: 'raw'; header: string };

/** What `{id}` in a path stands for: resolved against the stored state when the case runs. */
export type IdRef =
  | { kind: 'acme'; index: number }
  | { kind: 'globex'; index: number }
  | { kind: 'gone' }
  | { kind: 'literal'; segment: string };

export type Payload =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array };

export interface Command {
  readonly method: string;
  /** May hold `{id}` or `{name}`. */
  readonly path: string;
  readonly query: string;
  readonly id: IdRef;
  readonly auth: Auth;
  readonly headers: Record<string, string>;
  /** `current` is the target's ETag at the time of the request. */
  readonly ifMatch?: string;
  readonly payload?: Payload;
}

/** Header values a real client can send: visible latin-1 and spaces (no CR, LF or NUL). */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((code) => code !== 0x7f)
      .map((code) => String.fromCharCode(code)),
    maxLength,
  });

const authArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Auth>({ kind: 'key', key: 'write' }) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom<KeyName>('read', 'otherWrite', 'otherRead')
      .map((key): Auth => ({ kind: 'key', key })),
  },
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: 'none' }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          '',
          'Bearer',
          'Bearer ',
          'bearer pb_x',
          'Basic dXNlcjpwYXNz',
          `Bearer pb_${'A'.repeat(43)}`,
          'Bearer a b',
          'Token abc',
          'Bearer\tabc',
          `Bearer ${'x'.repeat(9_000)}`,
        ),
        headerText(60).map((text) => `Bearer ${text}`),
        headerText(60),
      )
      .map((header): Auth => ({ kind: 'raw', header })),
  },
);

const contentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json;charset=UTF-16',
  'application/json; charset="latin1"',
  'application/json, text/plain',
  'application/jsonx',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  '',
  ';',
  '*/*',
  'application/',
];

const extraHeaders: fc.Arbitrary<Record<string, string>> = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'x-request-id',
        'accept',
        'accept-encoding',
        'idempotency-key',
        'x-forwarded-for',
        'origin',
        'expect',
        'content-encoding',
        'content-length',
        'transfer-encoding',
        'if-none-match',
        'range',
        'cookie',
      ),
      fc.oneof(
        headerText(40),
        fc.constantFrom(
          'gzip',
          'deflate, br',
          'identity',
          '*',
          '100-continue',
          '0',
          '-1',
          '99999',
          'chunked',
          'en',
        ),
      ),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of pairs) {
      // light-my-request computes Content-Length itself; a lying one is covered by the constants.
      if (name === 'content-length' && !/^\d+$/.test(value)) continue;
      // Node's HTTP client refuses these before sending; not something a server can be sent.
      if (name === 'transfer-encoding' && value !== 'chunked') continue;
      headers[name] = value;
    }
    return headers;
  });

const idempotencyKeyArb = fc.oneof(
  fc.constantFrom('k-1', 'k-2', 'k-3', 'retry-me'),
  fc.constantFrom('', ' ', 'a b', 'x'.repeat(256), 'é', '\t'),
  headerText(20),
);

const ifMatchArb = fc.oneof(
  fc.constantFrom('current', 'current', '*', '"nope"', '', 'W/"x"', '"a", "b"', 'current, "x"', ',,,', '"'),
  headerText(30),
);

const queryValue = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '1',
    '25',
    '100',
    '101',
    '-1',
    '1.5',
    '1e2',
    '0x10',
    '%201',
    '1%20',
    '+1',
    '01',
    '2147483647',
    '2147483648',
    '99999999999',
    'NaN',
    'Infinity',
    '%00',
    '%ZZ',
    '%',
    '%25',
    'a',
    '[]',
    'null',
    '%EF%BC%91',
    '%F0%9F%98%80',
  ),
  fc.nat().map(String),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const queryName = fc.constantFrom(
  'start-index',
  'max-results',
  'start-index',
  'max-results',
  'start-index[]',
  'max-results[a]',
  'Start-Index',
  'start_index',
  'startIndex',
  'foo',
  '',
  '%73tart-index',
  'max%2Dresults',
);
const queryArb = fc.oneof(
  fc.constant(''),
  fc
    .tuple(
      fc.array(fc.tuple(queryName, queryValue, fc.boolean()), { minLength: 1, maxLength: 5 }),
      fc.constantFrom('&', '&&', ';'),
    )
    .map(
      ([pairs, separator]) =>
        `?${pairs.map(([name, value, withEquals]) => (withEquals ? `${name}=${value}` : name)).join(separator)}`,
    ),
  fc.constantFrom('?', '??', '?&', '?=', '?%', '?a=%E0%A4%A', `?max-results=${'9'.repeat(5000)}`, '?#x'),
);

const idRefArb: fc.Arbitrary<IdRef> = fc.oneof(
  { weight: 6, arbitrary: fc.nat(60).map((index): IdRef => ({ kind: 'acme', index })) },
  { weight: 2, arbitrary: fc.nat(20).map((index): IdRef => ({ kind: 'globex', index })) },
  { weight: 1, arbitrary: fc.constant<IdRef>({ kind: 'gone' }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.string({ maxLength: 24 }).map(encodeURIComponent),
        fc.constantFrom(
          '%',
          '%ZZ',
          '%C0%AF',
          '%ED%A0%80',
          '%00',
          '..',
          '.',
          '%2e%2e',
          'a%2Fb',
          'x'.repeat(4_097),
          'é',
        ),
      )
      .map((segment): IdRef => ({ kind: 'literal', segment })),
  },
);

function payloadArb(body: fc.Arbitrary<unknown>): fc.Arbitrary<Payload> {
  return fc.oneof(
    { weight: 12, arbitrary: body.map((value): Payload => ({ kind: 'json', value })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom(
            '',
            '   ',
            'null',
            '[]',
            '1e999',
            '"x"',
            '{',
            '{"name":"x","type":"slack",}',
            '{"name":"dup","name":"dup2","type":"slack"}',
            '{"type":"slack","name":"p","__proto__":{"x":1}}',
            '{"type":"slack","name":"c","constructor":{"prototype":{"x":1}}}',
            `{"type":"slack","name":"deep","params":{"x":${'['.repeat(32_000)}${']'.repeat(32_000)}}}`,
            `{"type":"slack","name":"deep2","params":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`,
            `${'['.repeat(32_700)}${']'.repeat(32_700)}`,
            '{"type":"slack","name":"\\ud800"}',
            '{"type":"slack","name":"\\u0000"}',
            '{"type":"slack","name":"ok"}garbage',
          ),
          body.chain((value) => {
            const text = JSON.stringify(value) ?? '';
            return fc.nat(Math.max(0, text.length - 1)).map((cut) => text.slice(0, cut));
          }),
        )
        .map((text): Payload => ({ kind: 'text', text })),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): Payload => ({ kind: 'bytes', bytes })),
    },
  );
}

/** A body of some type, valid or mutated (about a third stay valid). */
const bodyArb: fc.Arbitrary<unknown> = fc
  .constantFrom(...connectorTypes)
  .chain((type) =>
    fc
      .tuple(validBodyArb(type), fc.array(mutationArb(type), { maxLength: 3 }))
      .map(([body, mutations]) => applyMutations(body, mutations)),
  );

const baseHeaders = fc.record(
  {
    contentType: fc.oneof(
      { weight: 10, arbitrary: fc.constant('application/json') },
      { weight: 3, arbitrary: fc.constantFrom(...contentTypes) },
      { weight: 1, arbitrary: headerText(30) },
    ),
    idempotencyKey: idempotencyKeyArb,
    extra: extraHeaders,
  },
  { requiredKeys: ['contentType', 'extra'] },
);

function headersOf(h: { contentType?: string; idempotencyKey?: string; extra: Record<string, string> }) {
  const headers: Record<string, string> = { ...h.extra };
  if (h.contentType !== undefined) headers['content-type'] = h.contentType;
  if (h.idempotencyKey !== undefined) headers['idempotency-key'] = h.idempotencyKey;
  return headers;
}

/** POST/PUT of connector bodies, and the body check. */
const writeCommand: fc.Arbitrary<Command> = fc
  .record({
    target: fc.constantFrom(
      { method: 'POST', path: '/api/connectors' },
      { method: 'POST', path: '/api/connectors' },
      { method: 'PUT', path: '/api/connectors/{id}' },
      { method: 'PUT', path: '/api/connectors/{id}' },
      { method: 'POST', path: '/api/connectors/check' },
    ),
    id: idRefArb,
    auth: authArb,
    headers: baseHeaders,
    ifMatch: fc.option(ifMatchArb, { nil: undefined, freq: 3 }),
    payload: fc.option(payloadArb(bodyArb), { nil: undefined, freq: 20 }),
  })
  .map(({ target, id, auth, headers, ifMatch, payload }) => ({
    ...target,
    query: '',
    id,
    auth,
    headers: headersOf(headers),
    ...(ifMatch === undefined ? {} : { ifMatch }),
    ...(payload === undefined ? {} : { payload }),
  }));

/** Reads, deletes and checks of stored connectors, with odd queries. */
const otherCommand: fc.Arbitrary<Command> = fc
  .record({
    target: fc.constantFrom(
      { method: 'GET', path: '/api/connectors' },
      { method: 'GET', path: '/api/connectors' },
      { method: 'GET', path: '/api/audit-events' },
      { method: 'GET', path: '/api/connectors/{id}' },
      { method: 'HEAD', path: '/api/connectors/{id}' },
      { method: 'GET', path: '/api/connectors/name/{name}' },
      { method: 'DELETE', path: '/api/connectors/{id}' },
      { method: 'POST', path: '/api/connectors/{id}/check' },
      { method: 'GET', path: '/api/connector-types' },
      { method: 'GET', path: '/healthz' },
    ),
    query: queryArb,
    id: idRefArb,
    auth: authArb,
    headers: fc.record(
      { contentType: fc.constantFrom(...contentTypes), extra: extraHeaders },
      { requiredKeys: ['extra'] },
    ),
    ifMatch: fc.option(ifMatchArb, { nil: undefined, freq: 3 }),
    payload: fc.option(payloadArb(bodyArb), { nil: undefined, freq: 6 }),
  })
  .map(({ target, query, id, auth, headers, ifMatch, payload }) => ({
    ...target,
    query,
    id,
    auth,
    headers: headersOf(headers),
    ...(ifMatch === undefined ? {} : { ifMatch }),
    ...(payload === undefined ? {} : { payload }),
  }));

const methods = http.METHODS;
const oddPath = fc.oneof(
  fc.constantFrom(
    '/',
    '/api',
    '/api/',
    '/api/connectors',
    '/api/connectors/',
    '/api/connectors/{id}',
    '/api/connectors/{id}/check',
    '/api//connectors',
    '//api/connectors',
    '/api/./connectors',
    '/api/x/../connectors',
    '/api/%2e%2e/connectors',
    '/api/connectors/%2e%2e',
    '/api/connectors/..',
    '/API/CONNECTORS',
    '/api/connectors/name/',
    '/api/connectors/name',
    '/api/connectors/check/x',
    '/api/connectors/{id}/check/extra',
    '/api/audit-events/1',
    '/healthz/',
    '/api/openapi.json/x',
    '/%61pi/connectors',
    '/api/connectors%2F{id}',
    '/api/connectors/{id}%00',
    '/api/connectors/%',
    '/api/connectors/%C0%AF',
    '/api/connectors/name/%ED%A0%80',
    '/api/connector-types/jira',
    '/.env',
    '/admin',
    '/api/connectors;jsessionid=1',
    '/api/connectors/{id};x',
    '*',
    'http://evil.example/api/connectors',
    '/api/connectors/{id}#frag',
    '/api/connectors/é/😀',
    '/api/connectors/a b',
  ),
  fc.constantFrom(4_000, 4_097, 10_000, 70_000).map((n) => `/api/connectors/${'a'.repeat(n)}`),
  fc.constantFrom(200, 9_000).map((n) => `/${'x/'.repeat(n)}`),
  fc
    .array(
      fc.oneof(
        fc.string({ maxLength: 8 }).map(encodeURIComponent),
        fc.constantFrom('api', 'connectors', '..', '.', '%2F', '{id}'),
      ),
      {
        maxLength: 5,
      },
    )
    .map((segments) => `/${segments.join('/')}`),
);

/** Any method on any path. */
const oddCommand: fc.Arbitrary<Command> = fc
  .record({
    method: fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(...methods) },
      { weight: 1, arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'TRACE', 'PROPFIND') },
    ),
    path: oddPath,
    query: queryArb,
    id: idRefArb,
    auth: authArb,
    headers: fc.record(
      { contentType: fc.constantFrom(...contentTypes), extra: extraHeaders },
      { requiredKeys: ['extra'] },
    ),
    payload: fc.option(payloadArb(bodyArb), { nil: undefined, freq: 3 }),
  })
  .map(({ method, path, query, id, auth, headers, payload }) => ({
    method,
    path,
    query,
    id,
    auth,
    headers: headersOf(headers),
    ...(payload === undefined ? {} : { payload }),
  }));

/** One request of any kind: writes of bodies most often, then reads and deletes, then anything. */
export const commandArb = fc.oneof(
  { weight: 5, arbitrary: writeCommand },
  { weight: 3, arbitrary: otherCommand },
  { weight: 2, arbitrary: oddCommand },
);
