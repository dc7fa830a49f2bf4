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
    // Not under `npm run mutation`: its coverage counters and a shared machine make any time bound noise there.
    if (process.env.MUTATION_TESTS === undefined) expect(performance.now() - started).toBeLessThan(100);
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

describe('readJson at the edges of small limits', () => {
  const small = { maxChars: 24, maxDepth: 2, maxTokens: 4 };

  it('reads an answer of exactly maxChars characters; one more is too large', () => {
    const exact = `["${'x'.repeat(small.maxChars - 4)}"]`;
    expect(exact.length).toBe(small.maxChars);
    expect(readJson(exact, small)).toEqual({ value: ['x'.repeat(small.maxChars - 4)] });
    expect(readJson(`[ "${'x'.repeat(small.maxChars - 4)}"]`, small)).toEqual({ unread: 'too_large' });
  });

  it('reads nesting of exactly maxDepth; one level more is too deep', () => {
    expect(readJson('{"a":[1]}', small)).toEqual({ value: { a: [1] } });
    expect(readJson('[[[1]]]', small)).toEqual({ unread: 'too_deep' });
  });

  it('counts depth back down on each close, so that siblings do not add up', () => {
    expect(readJson('[[],[],{}]', { ...small, maxTokens: 8 })).toEqual({ value: [[], [], {}] });
  });

  it('reads exactly maxTokens structural tokens; one more is too many values', () => {
    // `[`, `,`, `,`, `,`: four tokens.
    expect(readJson('[1,2,3,4]', small)).toEqual({ value: [1, 2, 3, 4] });
    expect(readJson('[1,2,3,4,5]', small)).toEqual({ unread: 'too_many_values' });
    // `{`, `:`, `,`, `:`: colons count as well.
    expect(readJson('{"a":1,"b":2}', { ...small, maxTokens: 3 })).toEqual({ unread: 'too_many_values' });
    // Opening brackets count: `[`, `[`, `,`, `[`, `,`, `[`.
    expect(readJson('[[],[],[]]', { ...small, maxTokens: 5 })).toEqual({ unread: 'too_many_values' });
    expect(readJson('[[],[],[]]', { ...small, maxTokens: 6 })).toEqual({ value: [[], [], []] });
  });

  it('a string ends at its closing quote: brackets after it count again', () => {
    expect(readJson('["a",[[1]]]', small)).toEqual({ unread: 'too_deep' });
    expect(readJson('["\\\\",[[1]]]', small)).toEqual({ unread: 'too_deep' });
  });

  it('an escaped quote does not end a string', () => {
    expect(readJson('["\\"[[[,,,"]', small)).toEqual({ value: ['"[[[,,,'] });
  });

  it('text beyond the limits that does not open with [ or { is not JSON, not unread JSON', () => {
    expect(readJson(`Unauthorized [see ${'x'.repeat(30)}]`, small)).toBeUndefined();
    expect(readJson(`  \n [${'1,'.repeat(20)}1]`, small)).toEqual({ unread: 'too_large' });
    expect(readJson(`{${'"k":1,'.repeat(5)}"k":1}`, small)).toEqual({ unread: 'too_large' });
  });

  it('looks for the opening bracket in the first 256 characters only', () => {
    expect(readJson(`${' '.repeat(256)}[${'1,'.repeat(20)}1]`, small)).toBeUndefined();
    expect(readJson(`${' '.repeat(255)}[${'1,'.repeat(20)}1]`, small)).toEqual({ unread: 'too_large' });
  });

  it('parseJson gives the value of JSON, and nothing for text that is not JSON', () => {
    expect(parseJson('{"ok":true}')).toEqual({ value: { ok: true } });
    expect(parseJson('not json')).toBeUndefined();
    expect(parseJson('{"unclosed":')).toBeUndefined();
  });

  it('says what was not read, from the limits in force', () => {
    expect(describeUnread('too_many_values')).toBe('JSON of more than 8192 values');
    const limits = { maxChars: 1536, maxDepth: 3, maxTokens: 7 };
    expect(describeUnread('too_large', limits)).toBe('more than 2 KiB of JSON');
    expect(describeUnread('too_deep', limits)).toBe('JSON nested deeper than 3 levels');
    expect(describeUnread('too_many_values', limits)).toBe('JSON of more than 7 values');
  });
});
