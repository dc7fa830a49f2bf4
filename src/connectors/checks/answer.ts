/**
 * Reading a target's JSON answer boundedly. A check or a delivery needs a few fields of a small
 * answer, but the target is whatever host a write key pointed it at: 1 MiB of nested `[[[…]]]`
 * made `JSON.parse` hold the event loop for 220-500 ms, for every tenant. So an answer is parsed
 * only after a cheap linear scan (no allocation, one pass) found it small, shallow and with few
 * values; anything else is not read at all. A parse then costs a few milliseconds at most.
 */

export interface AnswerLimits {
  /** The longest answer parsed, in UTF-16 code units (about bytes for the ASCII of JSON APIs). */
  readonly maxChars: number;
  /** The deepest nesting of arrays and objects. */
  readonly maxDepth: number;
  /** The most structural tokens (`{`, `[`, `,`, `:` outside strings): bounds the number of values. */
  readonly maxTokens: number;
}

/**
 * What the APIs we call answer to a check or a delivery is a few KiB (Jira's /myself 1 KiB, a
 * ServiceNow incident record 5-10 KiB, a Zendesk ticket with its audit 10-20 KiB); 64 KiB with
 * 8,192 tokens leaves room and parses in about 3 ms at worst on a slow core.
 */
export const ANSWER_LIMITS: AnswerLimits = { maxChars: 64 * 1024, maxDepth: 32, maxTokens: 8_192 };

/** Why an answer that may be JSON was not parsed. */
export type Unread = 'too_large' | 'too_deep' | 'too_many_values';

export type JsonReading = { readonly value: unknown } | { readonly unread: Unread };

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The first reason `text` is beyond `limits`, found in one pass over at most `maxChars` of it. */
function beyondLimits(text: string, limits: AnswerLimits): Unread | undefined {
  if (text.length > limits.maxChars) return 'too_large';
  let depth = 0;
  let tokens = 0;
  let inString = false;
  // Stryker disable next-line EqualityOperator: equivalent: charCodeAt past the end is NaN, which matches nothing
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limits.maxDepth) return 'too_deep';
      if (++tokens > limits.maxTokens) return 'too_many_values';
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    else if ((c === COMMA || c === COLON) && ++tokens > limits.maxTokens) return 'too_many_values';
  }
  return undefined;
}

/** Whether a body means to be JSON: its first non-blank character opens an object or an array. */
export function looksLikeJson(text: string): boolean {
  return /^\s*[[{]/.test(text.slice(0, 256));
}

/**
 * The answer parsed as JSON when it is within `limits`; `{unread}` when it would be JSON but is
 * too large, deep or full to read; undefined when it is not JSON.
 */
export function readJson(text: string, limits: AnswerLimits = ANSWER_LIMITS): JsonReading | undefined {
  const beyond = beyondLimits(text, limits);
  if (beyond !== undefined) return looksLikeJson(text) ? { unread: beyond } : undefined;
  try {
    return { value: JSON.parse(text) };
  } catch {
    // Not JSON.
  }
  return undefined;
}

/** The body parsed as JSON, or undefined when it is not JSON or beyond `limits` (see readJson). */
export function parseJson(
  text: string,
  limits: AnswerLimits = ANSWER_LIMITS,
): { value: unknown } | undefined {
  const reading = readJson(text, limits);
  return reading !== undefined && 'value' in reading ? reading : undefined;
}

/** What an unread answer was, for a message: `more than 64 KiB of JSON`. */
export function describeUnread(unread: Unread, limits: AnswerLimits = ANSWER_LIMITS): string {
  switch (unread) {
    case 'too_large':
      return `more than ${Math.round(limits.maxChars / 1024)} KiB of JSON`;
    case 'too_deep':
      return `JSON nested deeper than ${limits.maxDepth} levels`;
    case 'too_many_values':
      return `JSON of more than ${limits.maxTokens} values`;
  }
}
