import { describe, expect, it } from 'vitest';
import { newId, newTimeOrderedId } from './ids.js';

describe('newTimeOrderedId', () => {
  it('has the shape of newId: 22 base64url characters', () => {
    expect(newId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    for (let i = 0; i < 1_000; i++) expect(newTimeOrderedId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('sorts as text by the millisecond it was made in', () => {
    const times = [0, 1, 63, 64, 4_095, 4_096, Date.parse('2026-12-05T04:00:00Z'), 2 ** 42 - 1];
    const ids = times.map((time) => newTimeOrderedId(time));
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]?.slice(0, 7)).toBe('-------');
    expect(ids.at(-1)?.slice(0, 7)).toBe('zzzzzzz');
    const now = Date.parse('2026-12-05T04:00:00.123Z');
    expect(newTimeOrderedId(now) < newTimeOrderedId(now + 1)).toBe(true);
  });

  it('does not start with a dash in this century', () => {
    expect(newTimeOrderedId(Date.parse('2026-01-01T00:00:00Z'))[0]).toBe('O');
    expect(newTimeOrderedId(Date.parse('2099-12-31T23:59:59Z'))[0]).not.toBe('-');
  });

  it('is unique within one millisecond: the rest is random', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newTimeOrderedId(now)));
    expect(ids.size).toBe(10_000);
    const suffixes = [...ids].map((id) => id.slice(7));
    expect(new Set(suffixes).size).toBe(10_000);
  });
});
