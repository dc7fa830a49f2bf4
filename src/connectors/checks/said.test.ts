import { describe, expect, it } from 'vitest';
import { resetTime } from '../types/github/index.js';
import { Redactor } from './redact.js';
import { quoteShort, targetSaid } from './said.js';

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
