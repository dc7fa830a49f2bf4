import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { AppError } from '../errors.js';

const keyPattern = /^[\x21-\x7e]{1,255}$/;
/** The draft's form: an sf-string (RFC 8941), printable ASCII in quotes, `\"` and `\\` escaped. */
const quotedKeyPattern = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;

/** The header, for a route's schema (key order as the document has always shown it). */
export const IdempotencyKeyHeader = {
  'Idempotency-Key': {
    type: 'string',
    minLength: 1,
    maxLength: 255,
    description:
      'Makes a retried create safe: the same key and body from the same API key within 24 h replays the first response (each API key has its own Idempotency-Keys)',
  },
} as const;
/** The header of a replayed answer (the draft's and Stripe's name). */
export const IdempotentReplayedHeader = {
  'Idempotent-Replayed': '`true` when this is the replay of the first response to this Idempotency-Key',
} as const;

function invalidKey(): AppError {
  return new AppError(
    'INVALID_IDEMPOTENCY_KEY',
    'Idempotency-Key must be given once, as 1 to 255 visible ASCII characters, bare or as a quoted string (a UUID is a good choice)',
    [{ field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }],
  );
}

/**
 * The Idempotency-Key header: absent, or 1 to 255 visible ASCII characters (else 400). The IETF
 * draft sends it as a quoted string (`"8e03978e-…"`), Stripe's clients bare: both name the same key.
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') throw invalidKey();
  const quoted = quotedKeyPattern.exec(header)?.[1];
  if (quoted === undefined) {
    if (!keyPattern.test(header)) throw invalidKey();
    return header;
  }
  // Inside quotes a space is part of the key, as the sf-string grammar allows.
  const key = quoted.replace(/\\(["\\])/g, '$1');
  if (key.length < 1 || key.length > 255) throw invalidKey();
  return key;
}

/**
 * The request's fingerprint: the same key with another body is a client bug, not a retry. The
 * parsed body with its keys sorted: whitespace and key order are how a client serialises, not
 * what it asks for.
 */
export function fingerprint(body: unknown): string {
  // stringify(null) is 'null': the fallback is for the type (it returns undefined for a function,
  // which a parsed body never is).
  // Stryker disable next-line StringLiteral: unreachable (see above)
  const canonical = stringify(body ?? null) ?? 'null';
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * The fingerprint versions before this one recorded: the body as the client serialised it. A
 * retry of a request made before an upgrade is still the same request for the 24 hours its
 * record lives; this can go once no record of that age can be left.
 */
export function earlierFingerprint(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

export const idempotencyErrors = {
  mismatch: () =>
    new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used with a different request body in the last 24 hours; use a new key for a new request',
    ),
  inProgress: () =>
    new AppError(
      'IDEMPOTENCY_KEY_IN_USE',
      'a request with this Idempotency-Key is still being processed; retry in a moment',
      undefined,
      { 'Retry-After': '1' },
    ),
} as const;
