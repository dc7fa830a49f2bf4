import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError, errors } from '../errors.js';
import { STATUS, toErrorResponse } from './error-handler.js';

describe('the error handler', () => {
  it('answers a domain error with its code, the status the table gives it, its details and fields', () => {
    const { body, headers } = toErrorResponse(errors.nameTaken('Jira'), 1024);
    expect(body).toEqual({
      status: 409,
      code: 'NAME_TAKEN',
      message: expect.stringContaining('"Jira" already exists'),
      errors: [{ field: '/name', message: 'must be unique within the account' }],
    });
    expect(headers).toEqual({});
    expect(toErrorResponse(errors.unavailable('overloaded', 5), 1024)).toEqual({
      body: { status: 503, code: 'SERVICE_UNAVAILABLE', message: 'overloaded' },
      headers: { 'Retry-After': '5' },
    });
  });

  it('never sends the message of an internal error', () => {
    const { body } = toErrorResponse(new AppError('INTERNAL_ERROR', 'row 7 of table x is broken'), 1024);
    expect(body).toEqual({
      status: 500,
      code: 'INTERNAL_ERROR',
      message: 'internal error; the server log has the details',
    });
  });

  it("answers a driver's 'cannot serve now' with 503 and Retry-After", () => {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    expect(toErrorResponse(busy, 1024)).toEqual({
      body: {
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        message: 'the database is not available right now; retry shortly',
      },
      headers: { 'Retry-After': '1' },
    });
  });

  it("README's error table lists every code with its status, and nothing else", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| status | code | when |'));
    const rows = [...table.matchAll(/^\| (\d{3}) \| `([A-Z_]+)` \|/gm)].map(([, status, code]) => [
      code,
      Number(status),
    ]);
    expect(rows.length).toBeGreaterThan(0);
    expect(Object.fromEntries(rows)).toEqual(STATUS);
    expect(rows).toHaveLength(Object.keys(STATUS).length);
  });
});
