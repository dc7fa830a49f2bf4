import { hash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { AppError, quote } from '../errors.js';
import { withHeaders } from '../openapi/route-schema.js';
import type { Precondition, StoredConnector } from '../store/connector-store.js';
import { errorResponse } from './responses.js';

/**
 * A strong ETag of one representation (RFC 9110 8.8.1): a digest of the connector exactly as this
 * caller receives it, keys sorted. It changes when the version moves, when a check adds `lastCheck`,
 * and differs between a masked and a revealed view of the same version.
 */
export function etagOf(representation: unknown): string {
  // A frozen representation (a stored connector's view, see present.ts) is digested once.
  if (typeof representation !== 'object' || representation === null || !Object.isFrozen(representation))
    return digestOf(representation);
  let etag = etags.get(representation);
  if (etag === undefined) {
    etag = digestOf(representation);
    etags.set(representation, etag);
  }
  return etag;
}

function digestOf(representation: unknown): string {
  // `?? ''` only for `undefined` (stringify gives no JSON for it), which no route tags: any constant
  // would do, so Stryker's "Stryker was here!" for '' survives as an equivalent mutant.
  // One-shot (crypto.hash): no Hash object per response (~1 µs of a write's answer).
  const digest = hash('sha256', stringify(representation) ?? '', 'base64url');
  return `"${digest.slice(0, 22)}"`;
}

const etags = new WeakMap<object, string>();

/** The `If-Match` header of a conditional write, and its refusal, for a route's schema. */
export const IfMatchHeader = {
  'If-Match': {
    type: 'string',
    description: 'Only write if the connector still has this ETag (or `*`); otherwise 412',
  },
  'If-None-Match': {
    type: 'string',
    description: 'Only write if the connector does not have this ETag (`*`: never, it exists); otherwise 412',
  },
} as const;
/** The ETag header of an answer that carries a connector: what If-Match and If-None-Match compare with. */
export const ETagHeader = {
  ETag: 'Strong entity tag of the connector as this key sees it; send it back in If-Match',
} as const;
export const preconditionFailed = {
  412: withHeaders(errorResponse('If-Match does not match the current ETag, or If-None-Match does'), {
    ETag: "The connector's current ETag",
  }),
} as const;

/** A strong entity tag (RFC 9110 8.8.3): a quoted string, no W/. */
const STRONG_TAG = /^"[^"]*"$/;

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
  // An empty item (`"a",,"b"`) stays in the list and matches nothing: an ETag is never empty.
  const tags = value.split(',').map((tag) => tag.trim());
  // Still a 412 (a precondition that is false), but not "changed since you read it": a tag that is
  // not a quoted string, or a weak one (If-Match compares strongly), matches no version at all.
  const unusable = tags.find((tag) => tag !== '' && !STRONG_TAG.test(tag));
  return (current) => {
    const etag = etagOf(present(current));
    if (!tags.includes(etag)) {
      throw new AppError(
        'PRECONDITION_FAILED',
        unusable === undefined
          ? `the connector has changed since you read it (its ETag is now ${etag}); read it again and reapply your change`
          : `If-Match ${quote(unusable)} is not a strong ETag (a quoted string such as ${etag}, without W/) and matches no version; send the ETag header of your last read, or *`,
        undefined,
        { ETag: etag },
      );
    }
  };
}

/**
 * The precondition of an `If-None-Match` header on a write (RFC 9110 13.1.2): `*` is false for any
 * stored connector, a list of tags is false when one of them is the current ETag of the caller's
 * view; false is 412 and nothing is written. Ignoring it wrote (or deleted) what the client had
 * made conditional.
 */
export function ifNoneMatch(
  header: string | undefined,
  present: (connector: StoredConnector) => unknown,
): Precondition | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  // Weak comparison (RFC 9110 13.1.2): `W/"x"` names the same version as `"x"`.
  const tags = value.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  return (current) => {
    const etag = etagOf(present(current));
    if (value === '*' || tags.includes(etag)) {
      throw new AppError(
        'PRECONDITION_FAILED',
        value === '*'
          ? 'If-None-Match: * writes only when no such connector exists, and this one exists; drop the header to write it'
          : `the connector still has an ETag that If-None-Match lists (${etag}); drop the header, or send If-Match, to write it`,
        undefined,
        { ETag: etag },
      );
    }
  };
}

/** The preconditions of a write's `If-Match` and `If-None-Match` headers, If-Match first (RFC 9110 13.2.2). */
export function writePrecondition(
  headers: { 'if-match'?: string | undefined; 'if-none-match'?: string | undefined },
  present: (connector: StoredConnector) => unknown,
): Precondition | undefined {
  const match = ifMatch(headers['if-match'], present);
  const noneMatch = ifNoneMatch(headers['if-none-match'], present);
  if (!match || !noneMatch) return match ?? noneMatch;
  return (current) => {
    match(current);
    noneMatch(current);
  };
}
