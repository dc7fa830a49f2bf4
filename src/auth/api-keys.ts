import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Shortest key accepted from PLUGBOARD_API_KEY. Generated keys are far longer. */
export const MIN_KEY_LENGTH = 16;

/** A new API key: `pb_` and 256 random bits in base64url. */
export function generateApiKey(): string {
  return `pb_${randomBytes(32).toString('base64url')}`;
}

/** A key's public id, shown by `keys list` and used by `keys revoke`. */
export function generateKeyId(): string {
  return `key_${randomBytes(9).toString('base64url')}`;
}

/** Constant-time comparison of two stored hashes (src/secrets/hash-key.ts). */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
