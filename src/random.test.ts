import { describe, expect, it } from 'vitest';
import { randomBase64url, randomBytesPooled } from './random.js';

describe('pooled random bytes', () => {
  it('hands out bytes of the size asked for, never the same twice, across refills of the pool', () => {
    const seen = new Set<string>();
    // 1,000 draws of 16 and 12 bytes: more than seven refills of the 4 KiB pool.
    for (let i = 0; i < 1_000; i++) {
      const id = randomBase64url(16);
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const nonce = randomBytesPooled(12);
      expect(nonce.length).toBe(12);
      seen.add(id);
      seen.add(nonce.toString('hex'));
    }
    expect(seen.size).toBe(2_000);
  });

  it('gives each caller its own copy', () => {
    const a = randomBytesPooled(16);
    const copy = Buffer.from(a);
    randomBytesPooled(4096);
    expect(a.equals(copy)).toBe(true);
    expect(a.equals(Buffer.alloc(16))).toBe(false);
  });
});
