import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';

const keyPattern = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key header: absent, or 1 to 255 visible ASCII characters (else 400). */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !keyPattern.test(header)) {
    throw new AppError(
      400,
      'INVALID_IDEMPOTENCY_KEY',
      'Idempotency-Key must be given once, as 1 to 255 visible ASCII characters (a UUID is a good choice)',
      [{ field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }],
    );
  }
  return header;
}

/** The request's fingerprint: the same key with another body is a client bug, not a retry. */
export function hashBody(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

export const idempotencyErrors = {
  mismatch: () =>
    new AppError(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used with a different request body in the last 24 hours; use a new key for a new request',
    ),
  inProgress: () =>
    new AppError(
      409,
      'IDEMPOTENCY_KEY_IN_USE',
      'a request with this Idempotency-Key is still being processed; retry in a moment',
      undefined,
      { 'Retry-After': '1' },
    ),
} as const;
