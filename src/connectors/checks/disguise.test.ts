import { describe, expect, it } from 'vitest';
import { disguises } from '../../../test/disguises.js';
import { holdsAny, needlesOf, skeleton } from './disguise.js';
import { basicAuth } from './http.js';
import { Redactor, WITHHELD } from './redact.js';
import { quoteShort, reasonPhrase, targetSaid } from './said.js';

const USER = 'me@x.io';
// A slash, a quote, a letter beyond ASCII and a base64 with a slash: each encoding differs from the others.
const PASSWORD = 'S3cret/Pa"ssw0rd~?é';
const TABLE = disguises(PASSWORD, USER);

/** The redactor of a Jira check: the password param and the basic-auth header it sent. */
function jiraRedactor(): Redactor {
  const redactor = new Redactor();
  redactor.addSecret(PASSWORD);
  redactor.addHeader('Authorization', basicAuth(USER, PASSWORD));
  return redactor;
}

/** Each place a target's words are quoted from, with the quote it makes of `said`. */
const CHANNELS: Record<string, (said: string, redactor: Redactor) => string | undefined> = {
  'a JSON error message': (said, r) => targetSaid(JSON.stringify({ errorMessages: [said] }), r),
  'an HTML page': (said, r) => targetSaid(`<html><body><h1>${said}</h1></body></html>`, r),
  'a text page': (said, r) => targetSaid(`${said}\n`, r),
  'a reason phrase': (said, r) =>
    reasonPhrase({ status: 401, statusMessage: said, headers: {}, body: '', url: 'http://x' }, r),
  'a header': (said, r) => quoteShort(said, r),
};

/** Either the whole quote is withheld, or every trace of the credential was replaced by the placeholder. */
const SAFE = new Set([WITHHELD, 'Bad password: ********']);

describe(`a credential echoed in each of ${TABLE.length} encodings`, () => {
  it('the table has at least the 56 encodings of the finding', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(56);
    expect(new Set(TABLE.map(([, text]) => text)).size).toBe(TABLE.length);
    expect(new Set(TABLE.map(([name]) => name)).size).toBe(TABLE.length);
  });

  describe.each(Object.entries(CHANNELS))('in %s', (_channel, quoteOf) => {
    it.each(TABLE)('%s: never quoted', (_name, encoded) => {
      const quote = quoteOf(`Bad password: ${encoded}`, jiraRedactor());
      // The HTML channel decodes entities itself; a table row of entities is then plain.
      expect(SAFE.has(quote ?? ''), `${JSON.stringify(encoded)} → ${JSON.stringify(quote)}`).toBe(true);
    });
  });
});

describe('what is still quoted', () => {
  it.each([
    'Client must be authenticated to access this resource.',
    'Invalid username or password',
    'The operator account is blocked.',
    'Basic authentication with passwords is deprecated; use an API token',
    'User me@x.io has no permission',
    '401 Unauthorized: 5f3c 9a1b request 0x7f3e',
  ])('%s', (said) => {
    expect(targetSaid(JSON.stringify({ message: said }), jiraRedactor())).toBe(said);
  });

  it('withholds the quote, not the rest: exact forms still become the placeholder', () => {
    expect(targetSaid(JSON.stringify({ message: `bad ${PASSWORD}` }), jiraRedactor())).toBe('bad ********');
    expect(targetSaid(JSON.stringify({ message: `bad ${PASSWORD.toUpperCase()}` }), jiraRedactor())).toBe(
      WITHHELD,
    );
  });
});

describe('holdsAny: the escapes a skeleton is read through', () => {
  const SECRET = 'S3cretPassw0rd';
  // Made in each test, not when the file loads: a mutant that breaks it must fail a test, not the file.
  const holds = (text: string) => holdsAny(text, new Set(needlesOf(SECRET)));

  it.each([
    ['&amp; that makes an entity in the next round', 'S3&amp;#x63;retPassw0rd'],
    ['&lt; and &gt; that make a tag', 'S3cret&lt;b&gt;Passw0rd'],
    ['&num; that makes a numeric entity', 'S3&&num;x63;retPassw0rd'],
    ['&percnt; that makes percent-encoding', 'S3&percnt;63retPassw0rd'],
    ['&bsol; that makes a \\x escape', 'S3&bsol;x63retPassw0rd'],
    ['&excl; and &dash; that make a comment', 'S3cret&lt;&excl;&dash;&hyphen; x --&gt;Passw0rd'],
    ['&shy;', 'S3c&shy;retPassw0rd'],
    ['&zwsp;', 'S3c&zwsp;retPassw0rd'],
    ['&zwj;', 'S3c&zwj;retPassw0rd'],
    ['&zwnj;', 'S3c&zwnj;retPassw0rd'],
    ['an upper-case entity name', 'S3c&SHY;retPassw0rd'],
    ['a hex entity of U+10FFFF, the last code point', 'S3c&#x10FFFF;retPassw0rd'],
    ['a decimal entity of U+10FFFF', 'S3c&#1114111;retPassw0rd'],
    ['a \\u{…} escape', 'S3\\u{63}retPassw0rd'],
    ['percent-encoding that is not UTF-8 (Latin-1)', 'S3cretPassw0rd%E9'.replace('c', '%63')],
  ])('sees the secret through %s', (_name, text) => {
    expect(holds(text), text).toBe(true);
  });

  it('decodes a run of percent-encoded bytes as UTF-8, and as Latin-1 where it is not UTF-8', () => {
    const accented = new Set(needlesOf('Passé-1234'));
    expect(holdsAny('Pass%C3%A9-1234', accented)).toBe(true);
    expect(holdsAny('Pass%E9-1234', accented)).toBe(true);
  });

  it('reads a hex entity without its semicolon, and a tag with a longer name', () => {
    expect(holds('S3&#x63retPassw0rd')).toBe(true);
    expect(holds('S3cret<span>Passw0rd')).toBe(true);
  });

  it('leaves an entity beyond U+10FFFF as it is, without throwing', () => {
    expect(holds('S3c&#x110000;retPassw0rd')).toBe(false);
    expect(holds('S3c&#1114112;retPassw0rd')).toBe(false);
    expect(holds('&#x110000; S3cretPassw0rd')).toBe(true);
  });

  it('an unknown entity name stays, and so breaks the skeleton', () => {
    expect(holds('S3c&bogus;retPassw0rd')).toBe(false);
  });

  it('holds nothing without needles', () => {
    expect(holdsAny('S3cretPassw0rd', new Set())).toBe(false);
  });
});

describe('needlesOf', () => {
  it('a skeleton of exactly 4 characters is looked for; of 3, not', () => {
    expect(needlesOf('a-b-c-d')).toContain('abcd');
    expect(needlesOf('a-b-c')).not.toContain('abc');
    expect(needlesOf('a-b-c').every((needle) => needle.length >= 4)).toBe(true);
  });

  it('is the skeleton, reversed, hex, base64 and the base64 of whole 3-byte groups from each of 3 offsets', () => {
    // 8 bytes: base64 `QWJjLTEyMzQ=`; its whole groups from byte 0 `QWJjLTEy`, 1 `YmMtMTIz`, 2 `Yy0xMjM0`.
    expect(needlesOf('Abc-1234')).toEqual([
      'abc1234',
      '4321cba',
      '4162632d31323334',
      'qwjjlteymzq',
      'qwjjltey',
      'ymmtmtiz',
      'yy0xmjm0',
    ]);
  });

  it('the base64 of a secret after any number of bytes is found in a longer base64', () => {
    for (const before of ['', 'u', 'us', 'use']) {
      const encoded = Buffer.from(`${before}:S3cretPassw0rd`).toString('base64');
      expect(holdsAny(encoded, new Set(needlesOf('S3cretPassw0rd'))), before).toBe(true);
    }
  });
});

describe('skeleton', () => {
  it('folds compatibility forms, lower-cases, and keeps letters and digits of any script only', () => {
    expect(skeleton('Ｓ３ｃ ﬁ-Ä_ж.٣')).toBe('s3cfiäж٣');
  });
});
