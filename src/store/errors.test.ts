import { describe, expect, it } from 'vitest';
import { isConnectorNameTaken, isDatabaseUnavailable, isUniqueViolation } from './errors.js';

/** A driver error as better-sqlite3 or pg raises it: a code, a message, maybe a constraint. */
function driverError(code: string, message: string, constraint?: string): Error {
  return Object.assign(new Error(message), { code, ...(constraint ? { constraint } : {}) });
}

describe('driver error classification', () => {
  it('a taken connector name, on SQLite and PostgreSQL, and nothing else', () => {
    const sqliteName = driverError(
      'SQLITE_CONSTRAINT_UNIQUE',
      'UNIQUE constraint failed: connectors.account_id, connectors.name',
    );
    const pgName = driverError('23505', 'duplicate key value', 'connectors_account_name_unique');
    const sqliteId = driverError('SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed: connectors.id');
    const pgSeq = driverError('23505', 'duplicate key value', 'connectors_pkey');
    expect([sqliteName, pgName, sqliteId, pgSeq].map(isUniqueViolation)).toEqual([true, true, true, true]);
    expect([sqliteName, pgName, sqliteId, pgSeq].map(isConnectorNameTaken)).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it.each([
    ['57P01', true], // admin shutdown
    ['08006', true], // connection failure
    ['53300', true], // too many connections
    ['ENETUNREACH', true],
    ['ECONNREFUSED', true],
    ['23505', false],
    ['42703', false], // undefined column: a bug, a 500
  ])('%s unavailable: %s', (code, unavailable) => {
    expect(isDatabaseUnavailable(driverError(code, 'x'))).toBe(unavailable);
  });
});
