/**
 * Hostile input, property-based (fast-check): requests generated from the connector type modules'
 * declarations, then mutated (wrong types, missing and extra fields, huge strings, odd unicode, odd
 * queries, headers, methods and paths), sent through app.inject to one long-lived app.
 *
 * Properties, for every request:
 * - the status is 2xx or 4xx, never 5xx;
 * - every 4xx body is the error shape {status (= the HTTP status), code UPPER_SNAKE, message, errors?};
 * - a 4xx changes nothing stored: both accounts' connectors (every page) and audit events, and the
 *   raw connector rows (a rewrite would re-seal the secrets under a fresh nonce), are the same after;
 * - a 2xx create or update stored what was sent: name and params read back exactly as given.
 *
 * FUZZ_RUNS (default 300) sets the number of cases, FUZZ_SEED replays a run, FUZZ_KEEP_GOING=1
 * counts failures instead of stopping at the first, FUZZ_REPORT=<file> writes the tally as JSON.
 * `npm run fuzz` runs 100,000 cases (scripts/fuzz.mjs).
 */

import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { ConnectorType, ParamSpec } from '../../src/connectors/define.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import { etagOf } from '../../src/http/conditional.js';
import { createLogger } from '../../src/logger.js';
import { openHashing } from '../../src/secrets/hash-key.js';
import { ephemeralKeyring } from '../../src/secrets/keyring.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { createKeyStore } from '../../src/store/key-store.js';
import { openTestDatabase, type TestDatabase } from '../backend.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1';
const REPORT = process.env.FUZZ_REPORT;
/** Connectors per account are kept between these bounds, so that a snapshot stays cheap. */
const MIN_CONNECTORS = 6;
const MAX_CONNECTORS = 30;
const PAGE = 25;
/** The audit trail is emptied (directly in the database) when it grows past this. */
const MAX_AUDIT_EVENTS = 80;

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

interface Body {
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

type KeyName = 'write' | 'read' | 'otherWrite' | 'otherRead';
type Auth = { kind: 'key'; key: KeyName } | { kind: 'none' } | { kind: 'raw'; header: string };

/** What `{id}` in a path stands for: resolved against the stored state when the case runs. */
type IdRef =
  | { kind: 'acme'; index: number }
  | { kind: 'globex'; index: number }
  | { kind: 'gone' }
  | { kind: 'literal'; segment: string };

type Payload =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array };

interface Command {
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

const commandArb = fc.oneof(
  { weight: 5, arbitrary: writeCommand },
  { weight: 3, arbitrary: otherCommand },
  { weight: 2, arbitrary: oddCommand },
);

// ---------------------------------------------------------------------------------------------
// The app, its state, and the checks

type Keys = Record<KeyName, string>;

interface State {
  acme: Connector[];
  globex: Connector[];
  /** The serialized snapshot: compared around every 4xx. */
  text: string;
}

interface Tally {
  cases: number;
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  failures: number;
  examples: { problems: string[]; request: string }[];
  seconds: number;
}

let app: FastifyInstance;
let database: DatabaseHandle;
let testDatabase: TestDatabase | undefined;
let keys: Keys;
let state: State;
const errorLogs: string[] = [];
const goneIds: string[] = [];
const tally: Tally = {
  cases: 0,
  byClass: {},
  byStatus: {},
  byCode: {},
  failures: 0,
  examples: [],
  seconds: 0,
};

function inject(options: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject(options);
}

function bearer(key: string) {
  return { authorization: `Bearer ${key}` };
}

async function listAll(key: string, path: string, size: number): Promise<unknown[]> {
  const all: unknown[] = [];
  for (let offset = 0; ; offset += size) {
    const response = await inject({
      method: 'GET',
      url: `${path}?start-index=${offset}&max-results=${size}`,
      headers: bearer(key),
    });
    if (response.statusCode !== 200) throw new Error(`snapshot: GET ${path} answered ${response.statusCode}`);
    const page = response.json() as unknown[];
    all.push(...page);
    if (page.length < size) return all;
  }
}

/** Both accounts' connectors and audit trails through the API, every page, and the raw rows. */
async function snapshot(): Promise<State> {
  const acme = (await listAll(keys.write, '/api/connectors', PAGE)) as Connector[];
  const globex = (await listAll(keys.otherWrite, '/api/connectors', PAGE)) as Connector[];
  const acmeAudit = await listAll(keys.write, '/api/audit-events', 100);
  const globexAudit = await listAll(keys.otherWrite, '/api/audit-events', 100);
  const rows = await database.db.selectFrom('connectors').selectAll().orderBy('seq').execute();
  const audit = await database.db
    .selectFrom('audit_events')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('seq').as('last')])
    .executeTakeFirstOrThrow();
  // A refused keyed POST must not leave a claim behind, nor move an account's list version.
  const idempotency = await database.db
    .selectFrom('idempotency_keys')
    .select(['account_id', 'key', 'state', 'request_hash'])
    .orderBy('account_id')
    .orderBy('key')
    .execute();
  const accounts = await database.db.selectFrom('accounts').selectAll().orderBy('id').execute();
  return {
    acme,
    globex,
    text: JSON.stringify({ acme, globex, acmeAudit, globexAudit, rows, audit, idempotency, accounts }),
  };
}

let serial = 0;
function seedBody(type: ConnectorType): Body {
  serial += 1;
  const params: Record<string, string> = {};
  for (const [name, spec] of Object.entries(type.params)) {
    params[name] =
      spec.format === 'url' ? `https://10.0.0.1/${type.id}/${serial}?access_token=t` : `${name}-${serial}`;
  }
  return { type: type.id, name: `seed ${serial}`, params };
}

/** Keeps each account between MIN_ and MAX_CONNECTORS small connectors; empties a long audit trail. */
async function housekeeping(): Promise<void> {
  let changed = false;
  for (const [key, list] of [
    [keys.write, state.acme],
    [keys.otherWrite, state.globex],
  ] as const) {
    const tooBig = list.filter((c) => JSON.stringify(c).length > 8_192);
    const surplus =
      list.length - tooBig.length > MAX_CONNECTORS ? list.slice(-(list.length - MAX_CONNECTORS)) : [];
    for (const connector of new Set([...tooBig, ...surplus])) {
      const response = await inject({
        method: 'DELETE',
        url: `/api/connectors/${encodeURIComponent(connector.id)}`,
        headers: bearer(key),
      });
      if (response.statusCode !== 204)
        throw new Error(`housekeeping: DELETE answered ${response.statusCode}`);
      goneIds.push(connector.id);
      changed = true;
    }
    for (let i = list.length - tooBig.length; i < MIN_CONNECTORS; i++) {
      const type = connectorTypes[serial % connectorTypes.length] as ConnectorType;
      const response = await inject({
        method: 'POST',
        url: '/api/connectors',
        headers: { ...bearer(key), 'content-type': 'application/json' },
        payload: JSON.stringify(seedBody(type)),
      });
      if (response.statusCode !== 200) throw new Error(`housekeeping: POST answered ${response.statusCode}`);
      changed = true;
    }
  }
  if (goneIds.length > 100) goneIds.splice(0, goneIds.length - 100);
  const { n } = await database.db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  if (Number(n) > MAX_AUDIT_EVENTS) {
    await database.db.deleteFrom('audit_events').execute();
    changed = true;
  }
  if (changed) state = await snapshot();
}

function resolveId(ref: IdRef): { segment: string; target: Connector | undefined } {
  const pick = (list: Connector[], index: number) =>
    list.length === 0 ? undefined : list[index % list.length];
  switch (ref.kind) {
    case 'acme':
    case 'globex': {
      const target = pick(ref.kind === 'acme' ? state.acme : state.globex, ref.index);
      return { segment: target ? encodeURIComponent(target.id) : 'none', target };
    }
    case 'gone':
      return { segment: goneIds[goneIds.length - 1] ?? 'gone', target: undefined };
    case 'literal':
      return { segment: ref.segment, target: undefined };
  }
}

function authHeader(auth: Auth): Record<string, string> {
  if (auth.kind === 'none') return {};
  if (auth.kind === 'raw') return { authorization: auth.header };
  return bearer(keys[auth.key]);
}

interface Prepared {
  readonly options: InjectOptions;
  /** What the server should have parsed from the body, when it is JSON text. */
  readonly sent: unknown;
  readonly summary: string;
}

function prepare(command: Command): Prepared {
  const { segment, target } = resolveId(command.id);
  const name = target ? encodeURIComponent(target.name) : segment;
  const url = `${command.path.replaceAll('{id}', segment).replaceAll('{name}', name)}${command.query}`;
  const headers: Record<string, string> = { ...command.headers, ...authHeader(command.auth) };
  if (command.ifMatch !== undefined) {
    headers['if-match'] = target ? command.ifMatch.replace('current', etagOf(target)) : command.ifMatch;
  }
  let payload: string | Buffer | undefined;
  let sent: unknown;
  if (command.payload?.kind === 'json') payload = JSON.stringify(command.payload.value);
  else if (command.payload?.kind === 'text') payload = command.payload.text;
  else if (command.payload?.kind === 'bytes') payload = Buffer.from(command.payload.bytes);
  if (payload !== undefined) {
    try {
      sent = JSON.parse(Buffer.isBuffer(payload) ? payload.toString('utf8') : payload);
    } catch {
      sent = undefined;
    }
  }
  const shown = (text: string) =>
    text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
  const summary = [
    `${command.method} ${shown(url)}`,
    `headers ${shown(JSON.stringify({ ...headers, authorization: headers.authorization && command.auth.kind === 'key' ? `<${command.auth.key} key>` : headers.authorization }))}`,
    payload === undefined
      ? 'no body'
      : `body ${shown(Buffer.isBuffer(payload) ? payload.toString('hex') : payload)}`,
  ].join('\n');
  return {
    options: {
      method: command.method as InjectOptions['method'],
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    },
    sent,
    summary,
  };
}

const errorKeys = new Set(['status', 'code', 'message', 'errors']);

/** The problems with a 4xx body, if any. */
function errorShapeProblems(response: LightMyRequestResponse): string[] {
  const problems: string[] = [];
  if (!/^application\/json/.test(String(response.headers['content-type']))) {
    problems.push(`4xx content-type is ${String(response.headers['content-type'])}`);
  }
  let body: unknown;
  try {
    body = response.json();
  } catch {
    return [...problems, `4xx body is not JSON: ${response.body.slice(0, 200)}`];
  }
  if (!isRecord(body)) return [...problems, '4xx body is not an object'];
  if (body.status !== response.statusCode)
    problems.push(`body status ${String(body.status)} ≠ ${response.statusCode}`);
  if (typeof body.code !== 'string' || !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(body.code)) {
    problems.push(`code ${JSON.stringify(body.code)} is not UPPER_SNAKE`);
  }
  if (typeof body.message !== 'string' || body.message === '')
    problems.push('message is not a non-empty string');
  for (const key of Object.keys(body)) if (!errorKeys.has(key)) problems.push(`unexpected key ${key}`);
  if (body.errors !== undefined) {
    if (!Array.isArray(body.errors)) problems.push('errors is not an array');
    else {
      for (const detail of body.errors) {
        if (!isRecord(detail) || typeof detail.field !== 'string' || typeof detail.message !== 'string') {
          problems.push(`errors has a malformed entry ${JSON.stringify(detail)}`);
        }
      }
    }
  }
  if (response.statusCode === 405 && !response.headers.allow) problems.push('405 without Allow');
  if (response.statusCode === 401 && !response.headers['www-authenticate'])
    problems.push('401 without WWW-Authenticate');
  return problems;
}

/** A 2xx create or update must have stored what was sent, and read back the same. */
async function roundTripProblems(
  command: Command,
  prepared: Prepared,
  response: LightMyRequestResponse,
): Promise<string[]> {
  const isWrite =
    (command.method === 'POST' && command.path === '/api/connectors') ||
    (command.method === 'PUT' && command.path === '/api/connectors/{id}');
  if (!isWrite || response.headers['idempotent-replayed'] || !isRecord(prepared.sent)) return [];
  const stored = response.json() as Connector;
  const problems: string[] = [];
  if (stored.name !== prepared.sent.name) {
    problems.push(
      `acknowledged name ${JSON.stringify(stored.name)} ≠ sent ${JSON.stringify(prepared.sent.name)}`,
    );
  }
  const params = isRecord(prepared.sent.params) ? prepared.sent.params : {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== '********' && stored.params[key] !== value) {
      problems.push(`acknowledged params.${key} ≠ the value sent`);
    }
  }
  const again = await inject({
    method: 'GET',
    url: `/api/connectors/${encodeURIComponent(stored.id)}`,
    headers: authHeader(command.auth),
  });
  if (again.statusCode !== 200 || again.body !== response.body) {
    problems.push(`reads back differently (${again.statusCode}): ${again.body.slice(0, 200)}`);
  }
  return problems;
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** A case that gets no answer in this time is a hang: it fails, naming the request. */
const CASE_TIMEOUT_MS = 5_000;

async function answerWithin(prepared: Prepared): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${CASE_TIMEOUT_MS} ms\n--- request ---\n${prepared.summary}`)),
      CASE_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([inject(prepared.options), hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function runCase(command: Command): Promise<void> {
  const prepared = prepare(command);
  const before = state.text;
  const response = await answerWithin(prepared);
  const status = response.statusCode;
  tally.cases += 1;
  if (KEEP_GOING && tally.cases % 10_000 === 0) {
    process.stderr.write(`fuzz (seed ${SEED}): ${tally.cases} cases, ${tally.failures} failures\n`);
  }
  count(tally.byClass, `${Math.floor(status / 100)}xx`);
  count(tally.byStatus, String(status));

  const problems: string[] = [];
  if (!((status >= 200 && status < 300) || (status >= 400 && status < 500))) {
    problems.push(`status ${status}: ${response.body.slice(0, 300)}`);
  }
  if (status >= 400 && status < 500) {
    if (command.method === 'HEAD') {
      if (response.body !== '') problems.push('HEAD answered with a body');
    } else {
      problems.push(...errorShapeProblems(response));
      try {
        const code = (response.json() as { code?: unknown }).code;
        if (typeof code === 'string') count(tally.byCode, code);
      } catch {
        // counted as a problem above
      }
    }
    const after = await snapshot();
    if (after.text !== before) problems.push(`a ${status} changed what is stored`);
    state = after;
  } else if (status >= 200 && status < 300) {
    if (command.method !== 'GET' && command.method !== 'HEAD') {
      problems.push(...(await roundTripProblems(command, prepared, response)));
      if (command.method === 'DELETE' && status === 204) {
        const { target } = resolveId(command.id);
        if (target) goneIds.push(target.id);
      }
      state = await snapshot();
    }
  }
  if (errorLogs.length > 0) {
    problems.push(`logged an error: ${errorLogs.join('\n').slice(0, 500)}`);
    errorLogs.length = 0;
  }
  await housekeeping();

  if (problems.length > 0) {
    tally.failures += 1;
    if (tally.examples.length < 20) tally.examples.push({ problems, request: prepared.summary });
    if (!KEEP_GOING) throw new Error(`${problems.join('\n')}\n--- request ---\n${prepared.summary}`);
  }
}

beforeAll(async () => {
  // The backend under test: in-memory SQLite, or a schema of its own on PostgreSQL.
  testDatabase = await openTestDatabase();
  database = testDatabase.handle;
  const keyring = ephemeralKeyring();
  const hashing = await openHashing(database.db, keyring);
  const keyStore = createKeyStore(database.db, hashing);
  keys = {
    write: (await keyStore.create('acme', 'write', 'fuzz write')).secret,
    read: (await keyStore.create('acme', 'read', 'fuzz read')).secret,
    otherWrite: (await keyStore.create('globex', 'write', 'fuzz other write')).secret,
    otherRead: (await keyStore.create('globex', 'read', 'fuzz other read')).secret,
  };
  // Only errors are kept: a line at level error (50) or above is a 5xx or a swallowed failure.
  const sink = new Writable({
    write(chunk, _encoding, done) {
      errorLogs.push(String(chunk));
      done();
    },
  });
  app = await buildApp({
    database,
    logger: createLogger('error', sink),
    keyring,
    hashing,
    // Every URL the fuzzer stores points at a private literal: checks are refused, nothing is called.
    checks: { allowedTargets: [], timeoutMs: 500, githubApiUrl: 'http://127.0.0.1:9' },
    closeDatabase: true,
  });
  state = { acme: [], globex: [], text: '' };
  state = await snapshot();
  await housekeeping();
});

afterAll(async () => {
  if (REPORT) writeFileSync(REPORT, `${JSON.stringify(tally, null, 2)}\n`);
  await app?.close();
  await testDatabase?.dispose();
});

describe('hostile input', () => {
  it(
    `never answers 5xx, answers every 4xx in the error shape and changes nothing on a 4xx (${RUNS} cases)`,
    async () => {
      const started = performance.now();
      try {
        await fc.assert(fc.asyncProperty(commandArb, runCase), {
          numRuns: RUNS,
          ...(SEED === undefined ? {} : { seed: SEED }),
        });
      } finally {
        tally.seconds = Math.round((performance.now() - started) / 100) / 10;
      }
      expect(tally.failures).toBe(0);
      // The generators reach both sides: accepted writes and refused ones.
      if (RUNS >= 200) {
        expect(tally.byClass['2xx'] ?? 0).toBeGreaterThan(RUNS / 20);
        expect(tally.byClass['4xx'] ?? 0).toBeGreaterThan(RUNS / 5);
      }
    },
    Math.max(60_000, RUNS * 60),
  );
});

/** What the fuzzer found, pinned: each was a 500, a body outside the error shape, or a silent change. */
describe('hostile input: found by the fuzzer', () => {
  async function expectError(options: InjectOptions, status: number, code: string) {
    const before = (await snapshot()).text;
    const response = await inject(options);
    expect(response.statusCode, response.body).toBe(status);
    expect(errorShapeProblems(response)).toEqual([]);
    expect((response.json() as { code: string }).code).toBe(code);
    expect((await snapshot()).text).toBe(before);
    return response;
  }
  const json = () => ({ ...bearer(keys.write), 'content-type': 'application/json' });

  it('answers a path that is not percent-encoded UTF-8 with 400 in the error shape', async () => {
    for (const url of ['/api/connectors/%', '/api/connectors/%ZZ', '/api/connectors/name/%ED%A0%80']) {
      const response = await expectError(
        { method: 'GET', url, headers: bearer(keys.write) },
        400,
        'BAD_REQUEST',
      );
      expect(response.headers['x-request-id']).toBeTruthy();
    }
  });

  it('answers an over-long id with 414 in the error shape, without echoing it', async () => {
    const url = `/api/connectors/${'a'.repeat(5_000)}`;
    const response = await expectError(
      { method: 'GET', url, headers: bearer(keys.write) },
      414,
      'URI_TOO_LONG',
    );
    expect(response.body.length).toBeLessThan(500);
  });

  it('refuses a deeply nested body, also with an Idempotency-Key (it overflowed the stack when hashed)', async () => {
    const payload = `{"type":"slack","name":"deep","params":{"x":${'['.repeat(32_000)}${']'.repeat(32_000)}}}`;
    for (const headers of [json(), { ...json(), 'idempotency-key': 'deep-1' }]) {
      await expectError(
        { method: 'POST', url: '/api/connectors', headers, payload },
        400,
        'VALIDATION_FAILED',
      );
    }
    const tooDeep = await expectError(
      {
        method: 'POST',
        url: '/api/connectors',
        headers: json(),
        payload: `${'['.repeat(33)}${']'.repeat(33)}`,
      },
      400,
      'VALIDATION_FAILED',
    );
    expect(tooDeep.body).toContain('nested more than 32 levels');
    // 32 levels are still parsed (brackets inside strings do not count), then refused as no connector.
    const deepEnough = await expectError(
      {
        method: 'POST',
        url: '/api/connectors',
        headers: json(),
        payload: `{"a":"[[[[{{{{","b":${'['.repeat(31)}${']'.repeat(31)}}`,
      },
      400,
      'VALIDATION_FAILED',
    );
    expect(deepEnough.body).not.toContain('nested');
  });

  it('refuses lone surrogates in names and params (they were stored as bytes that read back as U+FFFD)', async () => {
    const payloads = [
      '{"type":"slack","name":"a\\ud800"}',
      '{"type":"slack","name":"\\udfffb"}',
      '{"type":"jira","name":"ok","params":{"url":"https://10.0.0.1/","email":"e\\ud83d","password":"p"}}',
    ];
    for (const payload of payloads) {
      const response = await expectError(
        { method: 'POST', url: '/api/connectors', headers: json(), payload },
        400,
        'VALIDATION_FAILED',
      );
      expect((response.json() as { errors: { field: string }[] }).errors[0]?.field).toMatch(
        /^\/(name|params\/email)$/,
      );
    }
    // A well-formed astral character (a surrogate pair) is text like any other.
    const ok = await inject({
      method: 'POST',
      url: '/api/connectors',
      headers: json(),
      payload: '{"type":"slack","name":"pinned \\ud83d\\ude00"}',
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((ok.json() as Connector).name).toBe('pinned 😀');
    await inject({
      method: 'DELETE',
      url: `/api/connectors/${(ok.json() as Connector).id}`,
      headers: bearer(keys.write),
    });
    state = await snapshot();
  });

  it('refuses NUL characters in names and params, and finds nothing by an id or name holding one (PostgreSQL answered 500)', async () => {
    const payloads = [
      '{"type":"slack","name":"\\u0000"}',
      '{"type":"slack","name":"a\\u0000b"}',
      '{"type":"zendesk","name":"ok","params":{"url":"https://10.0.0.1/","email":"e","apiKey":"k\\u0000"}}',
    ];
    for (const payload of payloads) {
      const response = await expectError(
        { method: 'POST', url: '/api/connectors', headers: json(), payload },
        400,
        'VALIDATION_FAILED',
      );
      const [detail] = (response.json() as { errors: { field: string; message: string }[] }).errors;
      expect(detail?.field).toMatch(/^\/(name|params\/apiKey)$/);
      expect(detail?.message).toContain('NUL');
    }
    for (const [method, url] of [
      ['GET', '/api/connectors/a%00b'],
      ['GET', '/api/connectors/name/a%00b'],
      ['DELETE', '/api/connectors/%00'],
      ['POST', '/api/connectors/%00/check'],
    ] as const) {
      await expectError({ method, url, headers: bearer(keys.write) }, 404, 'NOT_FOUND');
    }
    await expectError(
      {
        method: 'PUT',
        url: '/api/connectors/%00',
        headers: json(),
        payload: '{"type":"slack","name":"renamed"}',
      },
      404,
      'NOT_FOUND',
    );
  });
});
