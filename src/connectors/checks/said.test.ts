import { describe, expect, it } from 'vitest';
import { resetTime } from '../types/github/index.js';
import { Redactor, WITHHELD } from './redact.js';
import { quoteShort, reasonPhrase, targetSaid } from './said.js';

const STARS = '********';

describe('targetSaid on text and HTML', () => {
  it('takes the first line of a page, tags, comments, scripts and styles out', () => {
    const page =
      '<!DOCTYPE html><html><head><style>p{color:red}</style><script>var x = "<b>";</script></head>' +
      '<body><!-- a comment --><h1>Access &amp; denied</h1><p>second</p></body></html>';
    expect(targetSaid(page, new Redactor())).toBe('Access & denied');
    expect(targetSaid('Unauthorized: bad token\nmore', new Redactor())).toBe('Unauthorized: bad token');
  });

  it('answers a megabyte of unclosed tags at once (patterns backtracked over them for minutes)', () => {
    for (const body of ['<'.repeat(1 << 20), '<!--'.repeat(1 << 18), `${'<script>'.repeat(1 << 17)}x`]) {
      const started = performance.now();
      targetSaid(body, new Redactor());
      expect(performance.now() - started).toBeLessThan(500);
    }
    const redactor = new Redactor();
    const started = performance.now();
    redactor.addHeader('authorization', `Bearer x${' '.repeat(60_000)}y`);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('redacts a secret whose spaces, tabs or trailing blanks the quote collapses', () => {
    for (const secret of ['pass  word\tlong', 'trailing-secret   ', 'zero\u200bwidth-secret']) {
      const redactor = new Redactor();
      redactor.addSecret(secret);
      const said = targetSaid(JSON.stringify({ message: `bad password ${secret} given` }), redactor) ?? '';
      expect(said).toContain(STARS);
      expect(said).not.toMatch(/pass word long|trailing-secret|width-secret/);
    }
  });
});

describe('targetSaid at its edges', () => {
  const said = (body: string) => targetSaid(body, new Redactor());
  /** A JSON array of 20 arrays of 20 numbers, with `text` at [row][column]: breadth-first, value 21 + 20 × row + column. */
  function grid(row: number, column: number, text: string): string {
    const rows = Array.from({ length: 20 }, () => Array.from({ length: 20 }, () => 0 as number | string));
    (rows[row] as (number | string)[])[column] = text;
    return JSON.stringify(rows);
  }

  it('looks at the first 200 values of a JSON answer, breadth-first, and no further', () => {
    expect(said(grid(8, 18, 'value 199'))).toBe('value 199');
    expect(said(grid(8, 19, 'value 200'))).toBeUndefined();
  });

  it('looks at the first 20 items of a JSON array or object only', () => {
    expect(said(JSON.stringify([...Array(19).fill(0), 'item 20']))).toBe('item 20');
    expect(said(JSON.stringify([...Array(20).fill(0), 'item 21']))).toBeUndefined();
    const object = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(said(JSON.stringify({ errors: { ...object(19), last: 'field 20' } }))).toBe('field 20');
    expect(said(JSON.stringify({ errors: { ...object(20), last: 'field 21' } }))).toBeUndefined();
  });

  it('skips blank strings for the next message, and padding does not push a message out of the quote', () => {
    // Blank strings before the message in the same array: each looked at, and passed over.
    expect(said(JSON.stringify({ errorMessages: ['  ', '\t', 'Token expired'] }))).toBe('Token expired');
    expect(said(JSON.stringify({ message: `${' '.repeat(1000)}Token expired` }))).toBe('Token expired');
  });

  it('a JSON-RPC error without string data is its message alone; padded parts are joined by one space', () => {
    expect(said('{"error":{"message":"Session terminated."}}')).toBe('Session terminated.');
    expect(said('{"error":{"message":"Invalid params.","data":{"code":1}}}')).toBe('Invalid params.');
    expect(said('{"error":{"message":5,"data":"Not authorised."}}')).toBe('Not authorised.');
    const padded = {
      error: { message: `Invalid params.${' '.repeat(1000)}`, data: `${' '.repeat(1000)}Not authorised.` },
    };
    expect(said(JSON.stringify(padded))).toBe('Invalid params. Not authorised.');
  });

  it('a message of control or invisible characters only says nothing', () => {
    expect(said(JSON.stringify({ message: '\u0007\u200b' }))).toBeUndefined();
    expect(said('\u0007\u200b\nsecond')).toBeUndefined();
  });

  it('decodes named, decimal and hex entities in a page, up to U+10FFFF', () => {
    expect(said('Bad &lt;token&gt; &quot;x&quot; &apos;y&apos;&nbsp;z &#x41;&#66;&#X43;')).toBe(
      'Bad <token> "x" \'y\' z ABC',
    );
    expect(said('max &#1114111; &#x10FFFF; over &#1114112; &#x110000; &bogus;')).toBe(
      'max \u{10FFFF} \u{10FFFF} over &#1114112; &#x110000; &bogus;',
    );
  });

  it.each([
    'br',
    'p',
    'div',
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'title',
    'li',
    'tr',
    'table',
    'pre',
    'hr',
    'head',
    'body',
    'html',
  ])('<%s> starts a new line', (tag) => {
    expect(said(`first<${tag}>second`)).toBe('first');
    expect(said(`first</${tag}>second`)).toBe('first');
  });

  it('an inline tag, or a `<` that names no tag, is a space', () => {
    expect(said('first<span>second</span>third')).toBe('first second third');
    expect(said('1 < p > 0')).toBe('1 0');
  });

  it('a line without tags is quoted whole, and so is the text after the last tag', () => {
    expect(said('Invalid API key')).toBe('Invalid API key');
    expect(said('<b>Denied</b> for you')).toBe('Denied for you');
  });

  it('a comment, a script and a style end a line, and a `>` inside a comment does not end it', () => {
    expect(said('First<!-- a > b -->Second')).toBe('First');
    expect(said('First<script>x</script>Second')).toBe('First');
    expect(said('First<style>p{}</style>Second')).toBe('First');
  });

  it('a stray closing </script> is only a tag, not the start of a script', () => {
    expect(said('Before</script>After')).toBe('Before After');
  });

  it('a script or a comment never closed ends the page; a --> just before a comment does not loop', () => {
    expect(said('Denied<script>x</script')).toBe('Denied');
    expect(said('Denied<script>x')).toBe('Denied');
    expect(said('Bad token --><!-- note -->, try again')).toBe('Bad token -->');
  });

  it('a page whose text starts after its first 16 KiB is not quoted', () => {
    expect(said(`${' '.repeat(16 * 1024 - 6)}Denied`)).toBe('Denied');
    expect(said(`${' '.repeat(16 * 1024)}Denied`)).toBeUndefined();
  });

  it('a credential cut in two by a line break, after blank lines, is withheld', () => {
    const redactor = new Redactor();
    redactor.addSecret('S3cretPassw0rd');
    expect(targetSaid('\n \nS3cret\nPassw0rd\n', redactor)).toBe(WITHHELD);
  });

  it('a credential more than 800 characters after the first line does not withhold it', () => {
    const redactor = new Redactor();
    redactor.addSecret('S3cretPassw0rd');
    expect(targetSaid(`Denied\n${'.'.repeat(800)}S3CRETPASSW0RD`, redactor)).toBe('Denied');
    expect(targetSaid(`Denied\n${'.'.repeat(770)}S3CRETPASSW0RD`, redactor)).toBe(WITHHELD);
  });
});

describe('reasonPhrase', () => {
  it('is the status message redacted, on one line, cut at 60 characters', () => {
    const redactor = new Redactor();
    redactor.addSecret('the-secret-token');
    const response = {
      status: 401,
      statusMessage: `Bad\u0007 the-secret-token ${'x'.repeat(80)}`,
      headers: {},
      body: '',
      url: 'http://x',
    };
    expect(reasonPhrase(response, redactor)).toBe(`Bad ${STARS} ${'x'.repeat(60 - 13)}…`);
  });
});

describe('quoteShort', () => {
  it('puts what a target sends in a header or field on one short, redacted line', () => {
    const redactor = new Redactor();
    redactor.addSecret('the-secret-token');
    const quoted = quoteShort(`zone\u001b[2J\u0000 the-secret-token ${'x'.repeat(500)}`, redactor);
    expect(quoted.length).toBeLessThanOrEqual(61); // 60 and the cut mark
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be gone
    expect(quoted).not.toMatch(/[\u0000-\u001f]/);
    expect(quoted).not.toContain('the-secret-token');
  });
});

describe('GitHub rate-limit reset time', () => {
  it('formats a reset time, and says nothing of one no Date can hold', () => {
    expect(resetTime('1767225600')).toBe(' after 00:00 UTC');
    expect(resetTime('9000000000000')).toBe('');
    expect(resetTime('nope')).toBe('');
  });
});
