import { describe, expect, it } from 'vitest';
import { ANSWER_LIMITS, describeUnread, parseJson, readJson } from './answer.js';

describe('readJson', () => {
  it('parses a small answer', () => {
    expect(readJson('{"errorMessages":["no"],"x":[1,{"y":2}]}')).toEqual({
      value: { errorMessages: ['no'], x: [1, { y: 2 }] },
    });
  });

  it('is undefined for text that is not JSON, however long', () => {
    expect(readJson('<html>Unauthorized</html>')).toBeUndefined();
    expect(readJson('x'.repeat(ANSWER_LIMITS.maxChars + 1))).toBeUndefined();
  });

  it.each([
    ['too_large', `[${'1,'.repeat(ANSWER_LIMITS.maxChars / 2)}1]`],
    ['too_large', '['.repeat(1024 * 1024)],
    ['too_deep', '['.repeat(60 * 1024)],
    ['too_deep', `${'['.repeat(ANSWER_LIMITS.maxDepth + 1)}${']'.repeat(ANSWER_LIMITS.maxDepth + 1)}`],
    ['too_many_values', `[${'{},'.repeat(ANSWER_LIMITS.maxTokens)}{}]`],
    ['too_many_values', `{${Array.from({ length: 5_000 }, (_, i) => `"k${i}":1`).join(',')}}`],
  ])('leaves %s JSON unread, in a few milliseconds', (why, text) => {
    const started = performance.now();
    expect(readJson(text)).toEqual({ unread: why });
    expect(parseJson(text)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('reads exactly at the limits', () => {
    const depth = ANSWER_LIMITS.maxDepth;
    expect(readJson(`${'['.repeat(depth)}${']'.repeat(depth)}`)).toHaveProperty('value');
  });

  it('does not count brackets, commas or colons inside strings, nor escaped quotes', () => {
    const inside = JSON.stringify({ message: `a \\" ${'[{,:'.repeat(10_000)}` });
    expect(inside.length).toBeLessThan(ANSWER_LIMITS.maxChars);
    expect(readJson(inside)).toHaveProperty('value');
  });

  it('says what was not read', () => {
    expect(describeUnread('too_large')).toBe('more than 64 KiB of JSON');
    expect(describeUnread('too_deep')).toBe('JSON nested deeper than 32 levels');
  });
});
