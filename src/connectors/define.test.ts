import { describe, expect, it } from 'vitest';
import { Redactor } from './checks/redact.js';
import type { CheckRun } from './checks/types.js';
import { defineConnectorType, param, UnvalidatedParamsError } from './define.js';

/** What a check saw, to compare with what it was given. */
let seen: unknown[] = [];

const plain = defineConnectorType({
  id: 'plain_example',
  displayName: 'Plain example',
  description: 'a type whose params say where its target is',
  params: {
    url: param.url('where'),
    token: param.secret('the credential'),
    note: param.text('optional', { required: false }),
  },
  check: {
    kind: 'online',
    description: 'GET {url}',
    async run(params, run) {
      const url: string = params.url;
      const note: string | undefined = params.note;
      // @ts-expect-error a name the type does not declare is a compile error, not ''
      params.pasword;
      // @ts-expect-error an optional param may be undefined
      const sure: string = params.note;
      // @ts-expect-error only a type with a fixed endpoint has one in its run
      run.endpoint;
      seen = [url, params.token, note, sure];
      return { status: 'ok', message: 'fine' };
    },
  },
});

const fixed = defineConnectorType({
  id: 'fixed_example',
  displayName: 'Fixed example',
  description: 'a type with one fixed endpoint',
  endpoint: 'https://api.example.com',
  params: { apiKey: param.secret('the token') },
  check: {
    kind: 'online',
    description: 'GET https://api.example.com/user',
    async run(params, run) {
      seen = [run.endpoint, params.apiKey];
      return { status: 'ok', message: 'fine' };
    },
  },
});

const offline = defineConnectorType({
  id: 'offline_example',
  displayName: 'Offline example',
  description: 'a type that cannot be checked online',
  params: { url: param.url('a webhook URL', { secret: true }) },
  check: {
    kind: 'offline',
    reason: 'it would post a message',
    validate: {
      description: 'the URL is a webhook URL',
      problem: (params) => (params.url.includes('/hooks/') ? undefined : 'not a webhook URL'),
    },
  },
});

function runOf(endpoints: Record<string, string> = {}): CheckRun {
  return {
    http: { request: () => Promise.reject(new Error('no calls here')), timeoutMs: 1_000, maxBytes: 1 },
    endpoints,
    deadline: Date.now() + 1_000,
    redactor: new Redactor(),
  };
}

describe('defineConnectorType', () => {
  it('gives the check its params by name, and the endpoint the type declares', async () => {
    if (plain.check.kind !== 'online' || fixed.check.kind !== 'online') throw new Error('online checks');
    await plain.check.run({ url: 'https://x.example.com', token: 't' }, runOf());
    expect(seen).toEqual(['https://x.example.com', 't', undefined, undefined]);
    await fixed.check.run({ apiKey: 'k' }, runOf());
    expect(seen).toEqual(['https://api.example.com', 'k']);
    expect(fixed.endpoint).toBe('https://api.example.com');
    expect(plain.endpoint).toBeUndefined();
  });

  it('points a fixed endpoint elsewhere through the run, by type id', async () => {
    if (fixed.check.kind !== 'online') throw new Error('online check');
    await fixed.check.run({ apiKey: 'k' }, runOf({ fixed_example: 'http://127.0.0.1:1/fake', other: 'x' }));
    expect(seen).toEqual(['http://127.0.0.1:1/fake', 'k']);
  });

  it('refuses params that lack a required one: they were never validated', () => {
    const { check } = plain;
    if (check.kind !== 'online') throw new Error('online check');
    expect(() => check.run({ url: 'https://x.example.com' }, runOf())).toThrow(UnvalidatedParamsError);
    expect(() => check.run({ url: 'https://x.example.com' }, runOf())).toThrow(/without token/);
  });

  it('gives an offline validation its params by name too', () => {
    if (offline.check.kind !== 'offline') throw new Error('offline check');
    expect(offline.check.validate?.problem({ url: 'https://chat.example.com/hooks/abc' })).toBeUndefined();
    expect(offline.check.validate?.problem({ url: 'https://chat.example.com/page' })).toBe(
      'not a webhook URL',
    );
  });

  it('derives the schema, required and secret params from the declaration', () => {
    expect(plain.paramNames).toEqual(['url', 'token', 'note']);
    expect(plain.requiredParams).toEqual(['url', 'token']);
    expect([...plain.secretParams]).toEqual(['token']);
    expect(plain.schemaName).toBe('ParamsPlainExample');
    expect(plain.paramsSchema.required).toEqual(['url', 'token']);
  });
});
