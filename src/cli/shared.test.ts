import { describe, expect, it } from 'vitest';
import { parseExpiry, parseIdArgs, printable, table, UsageError } from './shared.js';

const now = Date.parse('2026-11-26T12:00:00.000Z');

describe('parseExpiry', () => {
  it('takes durations in minutes, hours and days', () => {
    expect(parseExpiry('90d', now)).toBe('2027-02-24T12:00:00.000Z');
    expect(parseExpiry('12h', now)).toBe('2026-11-27T00:00:00.000Z');
    expect(parseExpiry('30m', now)).toBe('2026-11-26T12:30:00.000Z');
  });

  it('takes real calendar dates (midnight UTC) and times with a zone', () => {
    expect(parseExpiry('2027-01-31', now)).toBe('2027-01-31T00:00:00.000Z');
    expect(parseExpiry('2028-02-29', now)).toBe('2028-02-29T00:00:00.000Z');
    expect(parseExpiry('2027-01-31T12:30Z', now)).toBe('2027-01-31T12:30:00.000Z');
    expect(parseExpiry('2027-01-31T12:30:15.5+02:00', now)).toBe('2027-01-31T10:30:15.500Z');
  });

  it('refuses a bare number, naming the units', () => {
    expect(() => parseExpiry('90', now)).toThrow(/needs a unit: 90d \(days\), 90h \(hours\) or 90m/);
    expect(() => parseExpiry('3000', now)).toThrow(UsageError);
  });

  it('refuses dates that do not exist and anything else that is not a duration or ISO date', () => {
    for (const value of [
      '2027-02-30',
      '2027-02-29',
      '2027-13-01',
      '2027-01-31T24:00Z',
      '2027-01-31T12:00',
      'tomorrow',
      '1w',
      '1y',
      '-5d',
      '',
      'Jan 31 2027',
      '2027/01/31',
    ]) {
      expect(() => parseExpiry(value, now), value).toThrow(UsageError);
    }
  });

  it('refuses the past', () => {
    expect(() => parseExpiry('2026-01-01', now)).toThrow(/must be in the future/);
    expect(() => parseExpiry('0d', now)).toThrow(/must be in the future/);
  });
});

describe('table', () => {
  it('shows control characters and bidirectional overrides escaped, so a tenant cannot drive the terminal', () => {
    expect(printable('evil\u001b[2J\nline\u202e')).toBe('evil\\u{1b}[2J\\u{a}line\\u{202e}');
    const text = table(['NAME', 'ID'], [['a\u001b[31mred\r\nforged', 'x']]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character but the line breaks
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(text.split('\n')).toHaveLength(2);
    expect(text).toContain('a\\u{1b}[31mred\\u{d}\\u{a}forged');
  });

  it.each<[string, string]>([
    ['U+2028 line separator', '\u2028'],
    ['U+2029 paragraph separator', '\u2029'],
    ['U+061C Arabic letter mark', '\u061c'],
    ['U+200E left-to-right mark', '\u200e'],
    ['U+200F right-to-left mark', '\u200f'],
    ...[0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069].map((c): [string, string] => [
      `U+${c.toString(16)} bidirectional embedding or isolate`,
      String.fromCodePoint(c),
    ]),
    ['U+200B zero-width space', '\u200b'],
    ['U+200D zero-width joiner', '\u200d'],
    ['U+FEFF byte order mark', '\ufeff'],
    ['U+2060 word joiner', '\u2060'],
    ['U+00AD soft hyphen', '\u00ad'],
    ['U+E0041 tag latin capital A', '\u{e0041}'],
    ['U+D800 lone surrogate', '\ud800'],
  ])('escapes %s', (_name, character) => {
    const code = (character.codePointAt(0) ?? 0).toString(16);
    expect(printable(`a${character}b`)).toBe(`a\\u{${code}}b`);
    expect(table(['NAME'], [[`x${character}y`]])).not.toContain(character);
  });

  it('escapes every format, control and separator character (by category), nothing else', () => {
    const escaped = /^\\u\{[0-9a-f]+\}$/;
    const special = /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]$/u;
    const wrong: string[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const character = String.fromCodePoint(code);
      if (escaped.test(printable(character)) !== special.test(character)) wrong.push(code.toString(16));
    }
    expect(wrong).toEqual([]);
  });

  it('keeps ordinary unicode as it is and aligns columns', () => {
    expect(
      table(
        ['A', 'B'],
        [
          ['zürich', '1'],
          ['x', '2'],
        ],
      ),
    ).toBe('A       B\nzürich  1\nx       2');
  });
});

describe('parseIdArgs: IDs that start with a dash', () => {
  const options = { json: { type: 'boolean' }, connector: { type: 'string' } } as const;
  const dashed = '-rKq0Zr4_Vd3sT9u2QJ1Aw';

  it('takes an ID of 22 base64url characters as it is, as a positional or an option value', () => {
    expect(parseIdArgs({ args: [dashed, '--json'], allowPositionals: true, options })).toMatchObject({
      values: { json: true },
      positionals: [dashed],
    });
    expect(
      parseIdArgs({ args: ['--connector', dashed, 'x'], allowPositionals: true, options }),
    ).toMatchObject({ values: { connector: dashed }, positionals: ['x'] });
    expect(parseIdArgs({ args: ['abc', dashed, '-'], allowPositionals: true, options }).positionals).toEqual([
      'abc',
      dashed,
      '-',
    ]);
  });

  it('still refuses options it does not know, and what only looks like an ID by its length', () => {
    expect(() => parseIdArgs({ args: ['-r'], allowPositionals: true, options })).toThrow(
      /Unknown option '-r'/,
    );
    expect(() => parseIdArgs({ args: ['-rKq0Zr4_Vd3sT9u2QJ1A'], allowPositionals: true, options })).toThrow(
      /Unknown option/,
    );
    expect(() => parseIdArgs({ args: ['--nope'], allowPositionals: true, options })).toThrow(
      /Unknown option/,
    );
  });
});
