import { SECRET_PLACEHOLDER } from '../secrets.js';
import { holdsAny, needlesOf } from './disguise.js';

/** Shorter secrets are not looked for: a 3-character password would mangle every message. */
const MIN_SECRET = 4;
/** The parts of a secret URL (path segments, query values, userinfo) that count as credentials. */
const MIN_URL_PART = 8;
/** The shortest start of a credential that is redacted where a text was cut. */
const MIN_PREFIX = 4;
/** Marks where a text was cut; what stands before it may be the start of a credential. */
export const CUT = '…';

/** What stands for a quote of the target that held a credential in some disguise (disguise.ts). */
export const WITHHELD = '[quote withheld: it contained a credential]';

/** Request headers that carry credentials: every form of their values is sensitive. */
const CREDENTIAL_HEADER = /auth|token|key|secret|password|cookie|signature|session|integrationcode/i;
/**
 * Headers named like credentials that carry none: `Idempotency-Key`, the delivery's own id (the
 * dynamic type sends it; the API shows it to whoever may read the delivery). Looking for it in
 * every disguise in every answer header cost about a tenth of a delivery's CPU.
 */
const NOT_CREDENTIAL_HEADER = new Set(['idempotency-key']);

/** One line of printable text: no control or format (e.g. direction-changing) characters, runs of spaces collapsed. */
export function oneLine(text: string): string {
  // Stryker disable next-line Regex: equivalent: one space per character, then runs of spaces collapse
  const spaced = text.replace(/[\p{Cc}\p{Cf}]+/gu, ' ');
  return spaced.replace(/\s+/g, ' ').trim();
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A path segment such as `webhooks`, `services` or `incoming`: a lower-case word shorter than a
 * token, which names where a credential lives rather than being one. Redacting it would mangle
 * every message that says "webhook" (and our own messages too).
 */
function isPlainWord(part: string): boolean {
  return part.length < 16 && /^[a-z]+(?:[-_][a-z]+)*$/.test(part);
}

/**
 * Everything a credential check sent that must never come back in its message: the secret params,
 * every credential header in every form a target may echo (the whole value, its token part, the
 * base64 payload of basic auth and what it decodes to), and the credential-like parts of secret URLs.
 * One per check run; `call` feeds it the headers it sends, so a check cannot forget one.
 */
export class Redactor {
  private readonly values = new Set<string>();
  /** `values`, longest first, so that a longer credential is replaced before a shorter part of it. */
  // Stryker disable next-line ArrayDeclaration: only a text holding Stryker's own sentinel would show it
  private ordered: readonly string[] = [];
  /** The skeletons of every value in its disguises (disguise.ts). */
  private readonly needles = new Set<string>();

  /**
   * A sensitive string, when it is at least `min` characters long; also as a quote shows it (on one
   * line, spaces collapsed, trimmed), since quotes are made that way before they are redacted again.
   */
  add(value: string, min = MIN_SECRET): void {
    for (const form of new Set([value, value.trim(), oneLine(value)])) {
      if (form.length < min || form === SECRET_PLACEHOLDER || this.values.has(form)) continue;
      this.values.add(form);
      for (const needle of needlesOf(form)) this.needles.add(needle);
    }
    this.ordered = [...this.values].sort((a, b) => b.length - a.length);
  }

  /** The value of a secret param; when it is a URL, also its path segments, query values and userinfo. */
  addSecret(value: string): void {
    this.add(value);
    this.add(encodeURIComponent(value));
    if (!URL.canParse(value)) return;
    const url = new URL(value);
    this.add(url.href);
    const parts = [
      url.username,
      url.password,
      ...url.pathname.split('/'),
      ...url.search
        .slice(1)
        .split('&')
        .map((pair) => pair.slice(pair.indexOf('=') + 1)),
      url.hash.slice(1),
    ];
    for (const part of parts) {
      if (isPlainWord(decoded(part))) continue;
      this.add(part, MIN_URL_PART);
      this.add(decoded(part), MIN_URL_PART);
    }
  }

  /** A header the check sends: if it carries credentials, its value in every form a target may echo. */
  addHeader(name: string, value: string): void {
    if (!CREDENTIAL_HEADER.test(name) || NOT_CREDENTIAL_HEADER.has(name.toLowerCase())) return;
    this.add(value);
    // Trimmed first, then one split: `(\S.*?)\s*$` backtracked quadratically on a run of spaces.
    // A scheme only at the start (a value that starts otherwise is one opaque credential); the
    // credential is the rest after every blank.
    const match = /^([A-Za-z][\w.-]*)\s+([\s\S]+)/.exec(value.trim());
    const scheme = match?.[1];
    const credential = match?.[2];
    // Stryker disable next-line LogicalOperator,ConditionalExpression: equivalent: the pattern sets both groups or none
    if (scheme === undefined || credential === undefined) return;
    this.add(credential);
    if (scheme.toLowerCase() === 'basic') {
      const pair = Buffer.from(credential, 'base64').toString('utf8');
      this.add(pair);
      this.add(pair.slice(pair.indexOf(':') + 1));
    }
    // `Token token=…`, `Digest username="…", response="…"`: each value of a key=value pair (also
    // after a lone `=`), without its enclosing quotes. Other words (`headers="host date"`) are not
    // credentials of their own: the whole credential already covers them.
    // Stryker disable next-line Regex: equivalent: empty items between separators hold no `=`
    for (const item of credential.split(/[\s,]+/)) {
      const equals = item.indexOf('=');
      if (equals >= 0) this.add(item.slice(equals + 1).replace(/^"|"$/g, ''));
    }
  }

  /** `text` with every sensitive string replaced by the placeholder. */
  redact(text: string): string {
    let clean = text;
    for (const value of this.ordered) {
      clean = clean.replaceAll(value, SECRET_PLACEHOLDER);
    }
    return clean;
  }

  /** Whether `text` holds any credential in any common disguise: cased, spaced, encoded, reversed (disguise.ts). */
  disguises(text: string): boolean {
    return holdsAny(text, this.needles);
  }

  /**
   * A quote of the target, the only way a target's words reach a message: on one line, redacted,
   * cut to `max` characters; WITHHELD whole when what it was cut from (its first 4 × `max`
   * characters) still holds a credential in some disguise.
   */
  quote(text: string, max: number): string {
    const line = oneLine(this.redact(text.slice(0, 4 * max)));
    return this.disguises(line) ? WITHHELD : this.truncate(line, max);
  }

  /** `text` redacted, then cut to at most `max` characters (and `…`) without leaving the start of a credential. */
  truncate(text: string, max: number): string {
    const clean = this.redact(text);
    if (clean.length <= max) return clean;
    let cut = clean.slice(0, max);
    // Not half of a surrogate pair.
    if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
    return `${this.withoutTrailingPrefix(cut)}${CUT}`;
  }

  /** `message` redacted, and wherever it was cut (before each `…`) without the start of a credential. */
  redactMessage(message: string): string {
    // Nothing to look for (a run that sent no credential): the message as it is.
    if (this.ordered.length === 0) return message;
    const pieces = this.redact(message).split(CUT);
    const last = pieces.length - 1;
    return pieces.map((piece, i) => (i < last ? this.withoutTrailingPrefix(piece) : piece)).join(CUT);
  }

  private withoutTrailingPrefix(text: string): string {
    for (const value of this.ordered) {
      // Stryker disable next-line MethodExpression,ArithmeticOperator: equivalent: the whole value was redacted already; min only bounds the loop
      for (let length = Math.min(value.length - 1, text.length); length >= MIN_PREFIX; length--) {
        if (text.endsWith(value.slice(0, length))) {
          return `${text.slice(0, text.length - length)}${SECRET_PLACEHOLDER}`;
        }
      }
    }
    return text;
  }
}
