import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { AppError } from '../errors.js';
import type { Precondition, StoredConnector } from '../store/connector-store.js';
import { errorResponse } from './responses.js';

/**
 * A strong ETag of one representation (RFC 9110 8.8.1): a digest of the connector exactly as this
 * caller receives it, keys sorted. It changes when the version moves, when a check adds `lastCheck`,
 * and differs between a masked and a revealed view of the same version.
 */
export function etagOf(representation: unknown): string {
  // A frozen representation (a stored connector's view, see present.ts) is digested once.
  const frozen =
    typeof representation === 'object' && representation !== null && Object.isFrozen(representation);
  if (frozen) {
    const known = etags.get(representation);
    if (known !== undefined) return known;
  }
  const digest = createHash('sha256')
    .update(stringify(representation) ?? '')
    .digest('base64url');
  const etag = `"${digest.slice(0, 22)}"`;
  if (frozen) etags.set(representation, etag);
  return etag;
}

const etags = new WeakMap<object, string>();

/** The `If-Match` header of a conditional write, and its refusal, for a route's schema. */
export const IfMatchHeader = {
  'If-Match': {
    type: 'string',
    description: 'Only write if the connector still has this ETag (or `*`); otherwise 412',
  },
} as const;
export const preconditionFailed = { 412: errorResponse('If-Match does not match the current ETag') } as const;

/**
 * The precondition of an `If-Match` header (RFC 9110, strong comparison): `*` matches any stored
 * version, otherwise one of the listed tags must be the current ETag of the caller's view (`present`);
 * a mismatch is 412. No
 * header: no precondition, the last write wins (ilert's clients never send one).
 */
export function ifMatch(
  header: string | undefined,
  present: (connector: StoredConnector) => unknown,
): Precondition | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return () => {};
  const tags = value
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
  return (current) => {
    const etag = etagOf(present(current));
    if (!tags.includes(etag)) {
      throw new AppError(
        'PRECONDITION_FAILED',
        `the connector has changed since you read it (its ETag is now ${etag}); read it again and reapply your change`,
        undefined,
        { ETag: etag },
      );
    }
  };
}
