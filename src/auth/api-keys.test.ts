import { describe, expect, it } from 'vitest';
import { generateApiKey, generateKeyId, hashesEqual } from './api-keys.js';

describe('generated keys and ids', () => {
  it('a key is pb_ and 256 random bits in base64url (43 characters)', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^pb_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(3), 'base64url')).toHaveLength(32);
    expect(generateApiKey()).not.toBe(key);
  });

  it('a key id is key_ and 72 random bits in base64url (12 characters)', () => {
    const id = generateKeyId();
    expect(id).toMatch(/^key_[A-Za-z0-9_-]{12}$/);
    expect(generateKeyId()).not.toBe(id);
  });
});

describe('hashesEqual', () => {
  it('equal hashes are equal', () => {
    expect(hashesEqual('abc123', 'abc123')).toBe(true);
  });
  it('hashes that differ in one character, or in length, are not', () => {
    expect(hashesEqual('abc123', 'abc124')).toBe(false);
    expect(hashesEqual('abc123', 'abc1234')).toBe(false);
    expect(hashesEqual('', 'a')).toBe(false);
  });
});
