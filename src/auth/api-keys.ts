import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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

/**
 * The stored form of a key. Keys are 128+ random bits (or an operator's chosen secret), so a
 * fast hash is enough: there is nothing to brute-force that a slow hash would protect.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
