import { describe, expect, it } from 'vitest';
import { poolSnapshot, randomBase64url, randomBytesPooled } from './random.js';

/** Whether `needle` occurs anywhere in `haystack`. */
const holds = (haystack: Buffer, needle: Buffer) => haystack.indexOf(needle) !== -1;

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

  it('no longer holds what it handed out (bytes and base64url alike)', () => {
    for (let i = 0; i < 300; i++) {
      const nonce = randomBytesPooled(12);
      const id = Buffer.from(randomBase64url(16), 'base64url');
      const pool = poolSnapshot();
      expect(holds(pool, nonce)).toBe(false);
      expect(holds(pool, id)).toBe(false);
    }
  });

  it('zeroes only what it handed out: the rest of the pool stays random', () => {
    randomBytesPooled(4096); // the pool is used up: the next draw refills it
    randomBytesPooled(12);
    const zeros = poolSnapshot().reduce((count, byte) => count + (byte === 0 ? 1 : 0), 0);
    // The 12 handed out, plus the random zero bytes of 4,084 (16 expected; 64 is far in the tail).
    expect(zeros).toBeGreaterThanOrEqual(12);
    expect(zeros).toBeLessThan(12 + 64);
  });

  it('hands out exactly the pool (4,096 bytes) in one draw, and more than the pool apart from it', () => {
    const whole = randomBytesPooled(4096);
    expect(whole.length).toBe(4096);
    expect(holds(poolSnapshot(), whole.subarray(0, 32))).toBe(false);
    const larger = randomBytesPooled(5000);
    expect(larger.length).toBe(5000);
    expect(larger.subarray(4096).equals(Buffer.alloc(904))).toBe(false);
    const text = randomBase64url(6000);
    expect(Buffer.from(text, 'base64url').length).toBe(6000);
  });

  it('a draw that just fits what is left of the pool takes it without a refill; one byte more refills', () => {
    randomBytesPooled(4096); // the pool is used up: the next draw refills it
    const first = randomBytesPooled(4000); // 96 bytes left
    expect(first.length).toBe(4000);
    const before = poolSnapshot();
    const rest = randomBytesPooled(96); // exactly what is left
    expect(rest.equals(before.subarray(4000))).toBe(true);
    expect(randomBytesPooled(1).length).toBe(1); // refilled
  });

  it('draws ids from the pool too, up to the whole pool (4,096 bytes) in one draw', () => {
    randomBytesPooled(4096); // used up
    randomBytesPooled(1); // refilled: 4,095 bytes left
    const before = poolSnapshot();
    const id = Buffer.from(randomBase64url(16), 'base64url');
    expect(holds(before, id)).toBe(true);

    randomBytesPooled(4096); // used up
    randomBytesPooled(1); // refilled: 4,095 bytes left
    randomBase64url(4096); // refilled again and taken whole
    expect(poolSnapshot().equals(Buffer.alloc(4096))).toBe(true);
  });
});
