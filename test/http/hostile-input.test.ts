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
 * - a 2xx create or update stored what was sent: name and params read back exactly as given
 *   (an optional param sent as '' is not set, so not stored).
 *
 * This file holds the properties; the generators are in hostile-generators.ts, the app and what it
 * has stored (the model the properties compare with) in hostile-model.ts.
 *
 * FUZZ_RUNS (default 300) sets the number of cases, FUZZ_SEED replays a run, FUZZ_KEEP_GOING=1
 * counts failures instead of stopping at the first, FUZZ_REPORT=<file> writes the tally as JSON.
 * `npm run fuzz` runs 100,000 cases (scripts/fuzz.mjs).
 */
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { isRecord } from '../../src/is-record.js';
import { type Command, commandArb } from './hostile-generators.js';
import { bearer, HostileModel, type Prepared } from './hostile-model.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1';
const REPORT = process.env.FUZZ_REPORT;

interface Tally {
  cases: number;
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  failures: number;
  examples: { problems: string[]; request: string }[];
  seconds: number;
}

const tally: Tally = {
  cases: 0,
  byClass: {},
  byStatus: {},
  byCode: {},
  failures: 0,
  examples: [],
  seconds: 0,
};

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
    // '' for an optional param means "not set": it is not stored (a required one's '' is a 400).
    const expected = value === '' ? undefined : value;
    if (value !== '********' && stored.params[key] !== expected) {
      problems.push(`acknowledged params.${key} ≠ the value sent`);
    }
  }
  const again = await model.inject({
    method: 'GET',
    url: `/api/connectors/${encodeURIComponent(stored.id)}`,
    headers: model.authHeader(command.auth),
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
    return await Promise.race([model.inject(prepared.options), hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function runCase(command: Command): Promise<void> {
  const prepared = model.prepare(command);
  const before = model.state.text;
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
    const after = await model.snapshot();
    if (after.text !== before) problems.push(`a ${status} changed what is stored`);
    model.state = after;
  } else if (status >= 200 && status < 300) {
    if (command.method !== 'GET' && command.method !== 'HEAD') {
      problems.push(...(await roundTripProblems(command, prepared, response)));
      if (command.method === 'DELETE' && status === 204) {
        const { target } = model.resolveId(command.id);
        if (target) model.forget(target.id);
      }
      model.state = await model.snapshot();
    }
  }
  if (model.errorLogs.length > 0) {
    problems.push(`logged an error: ${model.errorLogs.join('\n').slice(0, 500)}`);
    model.errorLogs.length = 0;
  }
  await model.housekeeping();

  if (problems.length > 0) {
    tally.failures += 1;
    if (tally.examples.length < 20) tally.examples.push({ problems, request: prepared.summary });
    if (!KEEP_GOING) throw new Error(`${problems.join('\n')}\n--- request ---\n${prepared.summary}`);
  }
}

let model: HostileModel;

beforeAll(async () => {
  model = await HostileModel.open();
});

afterAll(async () => {
  if (REPORT) writeFileSync(REPORT, `${JSON.stringify(tally, null, 2)}\n`);
  await model?.close();
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
    const before = (await model.snapshot()).text;
    const response = await model.inject(options);
    expect(response.statusCode, response.body).toBe(status);
    expect(errorShapeProblems(response)).toEqual([]);
    expect((response.json() as { code: string }).code).toBe(code);
    expect((await model.snapshot()).text).toBe(before);
    return response;
  }
  const json = () => ({ ...bearer(model.keys.write), 'content-type': 'application/json' });

  it('answers a path that is not percent-encoded UTF-8 with 400 in the error shape', async () => {
    for (const url of ['/api/connectors/%', '/api/connectors/%ZZ', '/api/connectors/name/%ED%A0%80']) {
      const response = await expectError(
        { method: 'GET', url, headers: bearer(model.keys.write) },
        400,
        'BAD_REQUEST',
      );
      expect(response.headers['x-request-id']).toBeTruthy();
    }
  });

  it('answers an over-long id with 414 in the error shape, without echoing it', async () => {
    const url = `/api/connectors/${'a'.repeat(5_000)}`;
    const response = await expectError(
      { method: 'GET', url, headers: bearer(model.keys.write) },
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
    const ok = await model.inject({
      method: 'POST',
      url: '/api/connectors',
      headers: json(),
      payload: '{"type":"slack","name":"pinned \\ud83d\\ude00"}',
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect((ok.json() as Connector).name).toBe('pinned 😀');
    await model.inject({
      method: 'DELETE',
      url: `/api/connectors/${(ok.json() as Connector).id}`,
      headers: bearer(model.keys.write),
    });
    model.state = await model.snapshot();
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
      await expectError({ method, url, headers: bearer(model.keys.write) }, 404, 'NOT_FOUND');
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
