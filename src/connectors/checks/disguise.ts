/**
 * Whether a short text holds a secret in any common disguise. Redaction replaces the forms of a
 * credential a check sent, exactly; a target can echo it otherwise (hex, base64 of the password
 * alone, percent-encoded byte by byte, reversed, spaced out, case-folded, split by a line break,
 * with a zero-width space or a tag inside: 22 of 56 encodings got through, issue 11, finding 4).
 * Instead of one rule per encoding, both sides are reduced to a skeleton, and a quote in which
 * any skeleton of a secret appears is withheld whole.
 *
 * The skeleton of a text: its escapes decoded (HTML entities, `\uXXXX`, `\xXX`, percent-encoding,
 * twice), compatibility forms folded (NFKC: full-width letters, ligatures), lower-cased, and every
 * character that is not a letter or a digit dropped (spaces, separators, punctuation, line breaks,
 * zero-width and other invisible characters); once as it is and once with its tags taken out. A
 * secret is looked for as its own skeleton, reversed, and as the skeletons of its hex and base64
 * (which percent-encoding, `=XX`, and spaced or colon-separated hex reduce to; `\x` and `0x`
 * prefixes are dropped for one more reading).
 * Dropping characters only makes a match likelier: a quote is withheld too often, never too rarely.
 */

/** The shortest skeleton looked for: shorter ones would withhold every other message. */
const MIN_NEEDLE = 4;

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  // What starts another escape, an entity or a tag, read on in this round, the next or by `untagged`.
  amp: '&',
  lt: '<',
  gt: '>',
  num: '#',
  percnt: '%',
  bsol: '\\',
  excl: '!',
  hyphen: '-',
  dash: '-',
  // Invisible: nothing.
  shy: '',
  zwsp: '',
  zwj: '',
  zwnj: '',
  // Stryker disable StringLiteral: equivalent: a skeleton drops these characters, whatever they decode to
  quot: '"',
  apos: "'",
  nbsp: ' ',
  colon: ':',
  sol: '/',
  period: '.',
  comma: ',',
  lowbar: '_',
  equals: '=',
  commat: '@',
  quest: '?',
  dollar: '$',
  plus: '+',
  ast: '*',
  // Stryker restore StringLiteral
};

/** The character of `code`, parsed from at most 7 digits (never negative, never a fraction). */
function codePoint(code: number, otherwise: string): string {
  return code <= 0x10ffff ? String.fromCodePoint(code) : otherwise;
}

/** `%XX` runs decoded as UTF-8 (Latin-1 where they are not UTF-8). */
function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return Buffer.from(run.replace(/%/g, ''), 'hex').toString('latin1');
    }
  });
}

/** One round of decoding the escapes a target may wrap a credential in. */
function unescaped(text: string): string {
  return percentDecoded(
    text
      .replace(/&#x([0-9a-f]{1,6});?/gi, (entity, hex: string) => codePoint(Number.parseInt(hex, 16), entity))
      .replace(/&#(\d{1,7});?/g, (entity, decimal: string) => codePoint(Number(decimal), entity))
      .replace(/&([a-z]{2,8});/gi, (entity, name: string) => NAMED_ENTITIES[name.toLowerCase()] ?? entity)
      .replace(/\\u\{([0-9a-f]{1,6})\}/gi, (sequence, hex: string) =>
        codePoint(Number.parseInt(hex, 16), sequence),
      )
      .replace(/\\u([0-9a-f]{4})/gi, (sequence, hex: string) => codePoint(Number.parseInt(hex, 16), sequence))
      .replace(/\\x([0-9a-f]{2})/gi, (sequence, hex: string) =>
        codePoint(Number.parseInt(hex, 16), sequence),
      ),
  );
}

/** `text` without its tags (`<b>`, `</span>`, `<br/>`), and without HTML comments. */
function untagged(text: string): string {
  return text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\/?[a-z][^<>]{0,200}>/gi, '');
}

/** Letters and digits only, folded and lower-cased. */
export function skeleton(text: string): string {
  const folded = text.normalize('NFKC').toLowerCase();
  // Stryker disable next-line Regex: equivalent: dropped one by one or by runs
  return folded.replace(/[^\p{L}\p{N}]+/gu, '');
}

/** The skeletons a text can be read as: as it is, with escapes decoded (twice), with tags out. */
function readings(text: string): Set<string> {
  const once = unescaped(text.normalize('NFKC'));
  const twice = unescaped(once);
  // Hex written byte by byte (`\x53\x33`, `0x53 0x33`): without its prefixes, the skeleton is the hex.
  const bare = text.replace(/\\x|\b0x/gi, '');
  return new Set([text, once, twice, untagged(text), untagged(once), untagged(twice), bare].map(skeleton));
}

/** What a secret looks like in a skeleton: itself and reversed, its hex and its base64. */
export function needlesOf(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const own = skeleton(secret);
  const needles = [
    own,
    [...own].reverse().join(''),
    bytes.toString('hex'),
    skeleton(bytes.toString('base64')),
  ];
  // Base64 of the secret inside something longer (`user:password`): its whole 3-byte groups,
  // however many bytes came before it.
  for (const start of [0, 1, 2]) {
    const rest = bytes.subarray(start);
    needles.push(skeleton(rest.subarray(0, rest.length - (rest.length % 3)).toString('base64')));
  }
  return needles.filter((needle) => needle.length >= MIN_NEEDLE);
}

/** Whether any of `needles` appears in any reading of `text`. */
export function holdsAny(text: string, needles: ReadonlySet<string>): boolean {
  // Stryker disable next-line ConditionalExpression: equivalent: it only spares reading a text when nothing is looked for
  if (needles.size === 0) return false;
  for (const reading of readings(text)) {
    for (const needle of needles) if (reading.includes(needle)) return true;
  }
  return false;
}
