/**
 * The encodings a target can echo a credential in (issue 11, finding 4: 22 of 56 reached a check's
 * message): each a name and what the target writes for a secret. Used by the unit test of quotes
 * (src/connectors/checks/disguise.test.ts) and by the stored-lastCheck test (test/http/checks-disguise.test.ts).
 */

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const bytes = (s: string) => [...Buffer.from(s, 'utf8')];
const chars = (s: string) => [...s];
const middle = (s: string, insert: string) =>
  `${s.slice(0, s.length >> 1)}${insert}${s.slice(s.length >> 1)}`;
const base64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const swapCase = (s: string) =>
  chars(s)
    .map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()))
    .join('');
const reversed = (s: string) => chars(s).reverse().join('');
const pct = (s: string) =>
  bytes(s)
    .map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`)
    .join('');
const fullWidth = (s: string) =>
  chars(s)
    .map((c) => (c >= '!' && c <= '~' ? String.fromCodePoint(c.charCodeAt(0) + 0xfee0) : c))
    .join('');
const mathBold = (s: string) =>
  chars(s)
    .map((c) =>
      /[A-Z]/.test(c)
        ? String.fromCodePoint(0x1d400 + c.charCodeAt(0) - 65)
        : /[a-z]/.test(c)
          ? String.fromCodePoint(0x1d41a + c.charCodeAt(0) - 97)
          : /[0-9]/.test(c)
            ? String.fromCodePoint(0x1d7ce + c.charCodeAt(0) - 48)
            : c,
    )
    .join('');

/** 56 ways to write `secret` (the password) given `user`; every one must be kept out of a message. */
export function disguises(secret: string, user: string): readonly (readonly [name: string, text: string])[] {
  return [
    ['plain', secret],
    ['upper case', secret.toUpperCase()],
    ['lower case', secret.toLowerCase()],
    ['swapped case', swapCase(secret)],
    ['JSON-escaped', JSON.stringify(secret).slice(1, -1)],
    [
      'JSON \\u escapes',
      chars(secret)
        .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
        .join(''),
    ],
    [
      'JS \\u{…} escapes',
      chars(secret)
        .map((c) => `\\u{${c.codePointAt(0)?.toString(16)}}`)
        .join(''),
    ],
    [
      '\\x escapes',
      bytes(secret)
        .map((b) => `\\x${b.toString(16).padStart(2, '0')}`)
        .join(''),
    ],
    [
      'HTML decimal entities',
      chars(secret)
        .map((c) => `&#${c.codePointAt(0)};`)
        .join(''),
    ],
    [
      'HTML hex entities',
      chars(secret)
        .map((c) => `&#x${c.codePointAt(0)?.toString(16)};`)
        .join(''),
    ],
    [
      'HTML hex entities, upper X',
      chars(secret)
        .map((c) => `&#X${c.codePointAt(0)?.toString(16).toUpperCase()};`)
        .join(''),
    ],
    [
      'HTML entities without semicolons',
      chars(secret)
        .map((c) => `&#${c.codePointAt(0)}`)
        .join(''),
    ],
    ['URL-encoded', encodeURIComponent(secret)],
    ['percent-encoded byte by byte', pct(secret)],
    ['percent-encoded byte by byte, lower case', pct(secret).toLowerCase()],
    ['percent-encoded twice', pct(secret).replace(/%/g, '%25')],
    ['percent-encoded, spaced', pct(secret).replace(/%/g, ' %').trim()],
    ['hex', hex(secret)],
    ['hex, upper case', hex(secret).toUpperCase()],
    ['hex, spaced bytes', hex(secret).replace(/(..)(?!$)/g, '$1 ')],
    ['hex, colon-separated', hex(secret).replace(/(..)(?!$)/g, '$1:')],
    ['hex, 0x-prefixed', `0x${hex(secret)}`],
    [
      'hex, 0x per byte',
      bytes(secret)
        .map((b) => `0x${b.toString(16).padStart(2, '0')}`)
        .join(' '),
    ],
    ['quoted-printable', pct(secret).replace(/%/g, '=')],
    ['base64 of the secret alone', base64(secret)],
    ['base64 without padding', base64(secret).replace(/=+$/, '')],
    ['base64url', base64(secret).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')],
    ['base64 split by a line break', middle(base64(secret), '\n')],
    ['base64 of user:password', base64(`${user}:${secret}`)],
    ['basic auth header', `Basic ${base64(`${user}:${secret}`)}`],
    ['base64 of password:user', base64(`${secret}:${user}`)],
    ['reversed', reversed(secret)],
    ['reversed, upper case', reversed(secret).toUpperCase()],
    ['reversed and spaced', chars(reversed(secret)).join(' ')],
    ['spaced out', chars(secret).join(' ')],
    ['spaced out, upper case', chars(secret).join(' ').toUpperCase()],
    ['dash-separated', chars(secret).join('-')],
    ['dot-separated', chars(secret).join('.')],
    ['underscore-separated', chars(secret).join('_')],
    ['comma-separated', chars(secret).join(', ')],
    ['split by a line break', middle(secret, '\n')],
    ['split by CRLF', middle(secret, '\r\n')],
    ['split by a tab', middle(secret, '\t')],
    ['split by a no-break space', middle(secret, '\u00a0')],
    ['zero-width space inside', middle(secret, '\u200b')],
    ['zero-width space between every character', chars(secret).join('\u200b')],
    ['zero-width joiner inside', middle(secret, '\u200d')],
    ['zero-width non-joiner inside', middle(secret, '\u200c')],
    ['byte order mark inside', middle(secret, '\ufeff')],
    ['soft hyphen inside', middle(secret, '\u00ad')],
    ['word joiner inside', middle(secret, '\u2060')],
    ['right-to-left override inside', middle(secret, '\u202e')],
    ['a tag inside', middle(secret, '<b>')],
    [
      'a tag around every character',
      chars(secret)
        .map((c) => `<i>${c}</i>`)
        .join(''),
    ],
    ['an HTML comment inside', middle(secret, '<!-- -->')],
    ['full-width characters', fullWidth(secret)],
    ['mathematical bold characters', mathBold(secret)],
  ];
}
