import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Precondition, StoredConnector } from '../store/connector-store.js';

/** A strong ETag for one version of a connector: it changes whenever `updatedAt` moves. */
export function etagOf(connector: Pick<StoredConnector, 'id' | 'updatedAt'>): string {
  const digest = createHash('sha256').update(`${connector.id}\0${connector.updatedAt}`).digest('base64url');
  return `"${digest.slice(0, 22)}"`;
}

/**
 * The precondition of an `If-Match` header (RFC 9110, strong comparison): `*` matches any stored
 * version, otherwise one of the listed tags must be the current ETag; a mismatch is 412. No
 * header: no precondition, the last write wins (ilert's clients never send one).
 */
export function ifMatch(header: string | undefined): Precondition | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return () => {};
  const tags = value
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
  return (current) => {
    const etag = etagOf(current);
    if (!tags.includes(etag)) {
      throw new AppError(
        412,
        'PRECONDITION_FAILED',
        `the connector has changed since you read it (its ETag is now ${etag}); read it again and reapply your change`,
        undefined,
        { ETag: etag },
      );
    }
  };
}
