import { randomBase64url } from '../random.js';

/** An opaque, URL-safe, unguessable id: 128 random bits in base64url (22 characters). */
export function newId(): string {
  return randomBase64url(16);
}

/** Now, in the one timestamp format the API uses: ISO 8601, UTC, milliseconds. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** A timestamp strictly after `previous`, so that `updatedAt` always moves on an update. */
export function laterThan(previous: string): string {
  const now = Date.now();
  const floor = Date.parse(previous) + 1;
  return new Date(Number.isNaN(floor) ? now : Math.max(now, floor)).toISOString();
}
