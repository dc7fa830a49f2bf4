import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random bytes from the CSPRNG, drawn 4 KiB at a time, each byte handed out once: a call of
 * randomBytes for 12 or 16 bytes cost ~7 µs (setting up its job, not making the randomness), and a
 * create took three (the connector's id, its audit event's id, the nonce that seals its secrets).
 * What is handed out is zeroed in the pool, so it stays in memory only as long as its user keeps it.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/** Where `size` (at most POOL_BYTES) fresh bytes start in the pool, refilled when too few are left. */
function take(size: number): number {
  if (used + size > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const start = used;
  used += size;
  return start;
}

/** `size` random bytes, as randomBytes(size) gives them (more than the pool holds: drawn apart). */
export function randomBytesPooled(size: number): Buffer {
  if (size > POOL_BYTES) return randomBytes(size);
  const start = take(size);
  const bytes = Buffer.from(pool.subarray(start, start + size));
  pool.fill(0, start, start + size);
  return bytes;
}

/** `size` random bytes in base64url, as randomBytes(size).toString('base64url'). */
export function randomBase64url(size: number): string {
  if (size > POOL_BYTES) return randomBytes(size).toString('base64url');
  const start = take(size);
  const text = pool.toString('base64url', start, start + size);
  pool.fill(0, start, start + size);
  return text;
}

/** For tests: a copy of the pool as it is, to show that what was handed out is no longer in it. */
export function poolSnapshot(): Buffer {
  return Buffer.from(pool);
}
