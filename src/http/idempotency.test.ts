import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { earlierFingerprint, fingerprint, idempotencyErrors, idempotencyKeyOf } from './idempotency.js';

function refused(header: string | string[]): AppError {
  try {
    idempotencyKeyOf(header);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(header)} to be refused`);
}

describe('idempotencyKeyOf: bare keys', () => {
  it('no header is no key', () => {
    expect(idempotencyKeyOf(undefined)).toBeUndefined();
  });
  it.each(['a', '!', '~', 'x'.repeat(255), '8e03978e-40d5-43e8-bc93-6894a57f9324'])(
    '%j is a key as it is',
    (key) => {
      expect(idempotencyKeyOf(key)).toBe(key);
    },
  );
  it.each(['', 'x'.repeat(256), 'a b', 'a\u007f', 'é', 'a\tb'])('%j is refused', (header) => {
    const error = refused(header);
    expect(error.code).toBe('INVALID_IDEMPOTENCY_KEY');
    expect(error.message).toBe(
      'Idempotency-Key must be given once, as 1 to 255 visible ASCII characters, bare or as a quoted string (a UUID is a good choice)',
    );
    expect(error.details).toEqual([
      { field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
    ]);
  });
  it('a header given twice is refused', () => {
    expect(refused(['a', 'b']).code).toBe('INVALID_IDEMPOTENCY_KEY');
  });
});

describe('idempotencyKeyOf: quoted keys (RFC 8941 sf-string)', () => {
  it('"abc" is the key abc, as the bare abc is', () => {
    expect(idempotencyKeyOf('"abc"')).toBe('abc');
  });
  it('text before or after the quotes makes it a bare key, never the quoted part: x"abc" is not abc', () => {
    expect(idempotencyKeyOf('x"abc"')).toBe('x"abc"');
    expect(idempotencyKeyOf('"abc"x')).toBe('"abc"x');
  });
  it('inside quotes a space is part of the key and \\" and \\\\ are unescaped', () => {
    expect(idempotencyKeyOf('"a b"')).toBe('a b');
    expect(idempotencyKeyOf('"a\\"b"')).toBe('a"b');
    expect(idempotencyKeyOf('"a\\\\b"')).toBe('a\\b');
    expect(idempotencyKeyOf('"\\"\\\\"')).toBe('"\\');
  });
  it('a quoted key of 1 and of 255 characters is taken; empty quotes and 256 characters are refused', () => {
    expect(idempotencyKeyOf('"a"')).toBe('a');
    expect(idempotencyKeyOf(`"${'x'.repeat(255)}"`)).toBe('x'.repeat(255));
    expect(refused('""').code).toBe('INVALID_IDEMPOTENCY_KEY');
    expect(refused(`"${'x'.repeat(256)}"`).code).toBe('INVALID_IDEMPOTENCY_KEY');
  });
  it('255 characters once unescaped are taken, though 256 were sent between the quotes', () => {
    const key = `${'x'.repeat(254)}"`;
    expect(idempotencyKeyOf(`"${'x'.repeat(254)}\\""`)).toBe(key);
  });
});

describe('fingerprints', () => {
  it('the same body in another key order or layout has the same fingerprint; another body does not', () => {
    expect(fingerprint({ a: 1, b: [1, 2] })).toBe(fingerprint({ b: [1, 2], a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
    expect(fingerprint({ a: 1 })).toBe(createHash('sha256').update('{"a":1}').digest('hex'));
  });
  it('no body is fingerprinted as null', () => {
    const nullHash = createHash('sha256').update('null').digest('hex');
    expect(fingerprint(undefined)).toBe(nullHash);
    expect(fingerprint(null)).toBe(nullHash);
    expect(earlierFingerprint(undefined)).toBe(nullHash);
  });
  it('the earlier fingerprint is of the body as serialised, in its key order', () => {
    expect(earlierFingerprint({ b: 1, a: 2 })).toBe(
      createHash('sha256').update('{"b":1,"a":2}').digest('hex'),
    );
  });
});

describe('idempotency errors', () => {
  it('say what happened and what to do', () => {
    expect(idempotencyErrors.mismatch()).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      message:
        'this Idempotency-Key was used with a different request body in the last 24 hours; use a new key for a new request',
    });
    expect(idempotencyErrors.inProgress()).toMatchObject({
      code: 'IDEMPOTENCY_KEY_IN_USE',
      message: 'a request with this Idempotency-Key is still being processed; retry in a moment',
      headers: { 'Retry-After': '1' },
    });
  });
});
