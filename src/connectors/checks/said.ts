import { isRecord } from '../../is-record.js';
import type { OutboundResponse } from '../../outbound/types.js';
import { ANSWER_LIMITS, type AnswerLimits, readJson } from './answer.js';
import { type Redactor, WITHHELD } from './redact.js';

/** The longest quote of a target's message, and of its reason phrase. */
const MAX_SAID = 200;
const MAX_REASON = 60;

// Where checks and send functions have always found it; bounded since a target could stall the event loop.
export { parseJson } from './answer.js';

/** The first non-empty string in `values`, looking into arrays and objects breadth-first, boundedly. */
function firstString(...values: unknown[]): string | undefined {
  const queue: unknown[] = [...values];
  // The queue grows as it is read: breadth-first, the first 200 values.
  for (const [seen, value] of queue.entries()) {
    if (seen === 200) return undefined;
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    if (Array.isArray(value)) queue.push(...value.slice(0, 20));
    else if (isRecord(value)) queue.push(...Object.values(value).slice(0, 20));
  }
  return undefined;
}

/** A JSON-RPC error (`{"message": "Invalid params.", "data": "Not authorized."}`) as one sentence. */
function rpcError(error: Record<string, unknown>): string | undefined {
  const { message, data } = error;
  if (typeof message !== 'string' || typeof data !== 'string') return undefined;
  return `${message.trim()} ${data.trim()}`; // firstString trims the whole
}

/** The target's own short message from a JSON body (Jira, ServiceNow, Zendesk, GitHub, Zabbix, …). */
function fromJson(body: unknown): string | undefined {
  if (!isRecord(body)) return firstString(body);
  const error = isRecord(body.error) ? body.error : undefined;
  return firstString(
    error ? rpcError(error) : undefined,
    body.errorMessages,
    body.message,
    error?.message,
    error?.data,
    body.error,
    body.description,
    body.error_description,
    body.errors,
  );
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,6});/gi, (entity, name: string) => {
    const lower = name.toLowerCase();
    const code = lower.startsWith('#x')
      ? Number.parseInt(lower.slice(2), 16)
      : lower.startsWith('#')
        ? Number(lower.slice(1))
        : undefined;
    if (code === undefined) return ENTITIES[lower] ?? entity;
    return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}

/** How much of a text or HTML body is looked at: the quote is one line of at most 200 characters. */
const TEXT_SCAN = 16 * 1024;

/** Tags after which a page's text starts a new line. */
const BLOCK_TAGS = new Set([
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
]);

/**
 * A page's text with its tags, comments, scripts and styles taken out, in one pass over the first
 * 16 KiB. A scan with indexOf, not regular expressions: a target could answer a megabyte of `<`
 * that a backtracking pattern takes minutes over, holding the event loop.
 */
function stripTags(html: string): string {
  const source = html.slice(0, TEXT_SCAN);
  const lower = source.toLowerCase();
  let out = '';
  let at = 0;
  // Stryker disable next-line EqualityOperator: at the end, indexOf finds no `<` and the loop ends alike
  while (at < source.length) {
    const open = source.indexOf('<', at);
    if (open < 0) {
      out += source.slice(at);
      break;
    }
    out += source.slice(at, open);
    if (lower.startsWith('<!--', open)) {
      const end = source.indexOf('-->', open + 4);
      // Stryker disable next-line EqualityOperator: found from open + 4, end is never 0
      if (end < 0) break;
      out += '\n';
      at = end + 3;
      continue;
    }
    const close = source.indexOf('>', open + 1);
    // Stryker disable next-line EqualityOperator: found from open + 1, close is never 0
    if (close < 0) break;
    // Stryker disable next-line MethodExpression,StringLiteral: a name stops at `>` and is no block tag when absent; the 12 only bounds the slice
    const name = /^\/?([a-z][a-z0-9]*)/.exec(lower.slice(open + 1, Math.min(close, open + 12)))?.[1] ?? '';
    at = close + 1;
    if ((name === 'script' || name === 'style') && lower[open + 1] !== '/') {
      const end = lower.indexOf(`</${name}`, at);
      // Stryker disable next-line EqualityOperator: found from at > 0, end is never 0
      if (end < 0) break;
      const endClose = source.indexOf('>', end);
      // Stryker disable next-line EqualityOperator: found from end > 0, endClose is never 0
      if (endClose < 0) break;
      out += '\n';
      at = endClose + 1;
      continue;
    }
    out += BLOCK_TAGS.has(name) ? '\n' : ' ';
  }
  return out;
}

/**
 * The first non-empty line of a text or HTML body, tags stripped; and the text from that line on
 * (at most `around` characters), where a credential cut in two by a line break, a tag or a comment
 * is whole again.
 */
function fromText(body: string, around: number): { line: string; context: string } | undefined {
  const text = decodeEntities(stripTags(body));
  let at = 0;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed !== '') return { line: trimmed, context: text.slice(at, at + around) };
    at += line.length + 1;
  }
  return undefined;
}

/**
 * What the target said in its body — the message of a JSON error, else the first line of a text or
 * HTML page — on one line, at most 200 characters. The raw body is redacted before anything is taken
 * from it, and the quote again before it is cut, so that no form of a credential survives either step.
 */
export function targetSaid(
  body: string,
  redactor: Redactor,
  limits: AnswerLimits = ANSWER_LIMITS,
): string | undefined {
  const clean = redactor.redact(body);
  const json = readJson(clean, limits);
  // JSON too large or deep to read is not quoted at all: its first line is no message.
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: an unread reading has no value, in which fromJson finds nothing
  if (json !== undefined && 'unread' in json) return undefined;
  if (json) {
    const found = fromJson(json.value);
    if (found === undefined) return undefined;
    const quote = redactor.quote(found, MAX_SAID);
    return quote === '' ? undefined : quote;
  }
  const text = fromText(clean, 4 * MAX_SAID);
  if (text === undefined) return undefined;
  if (redactor.disguises(text.context)) return WITHHELD;
  const quote = redactor.quote(text.line, MAX_SAID);
  return quote === '' ? undefined : quote;
}

/** A short piece of what the target sent (a header, a field): redacted, on one line, at most `max` characters. */
export function quoteShort(text: string, redactor: Redactor, max = MAX_REASON): string {
  return redactor.quote(text, max);
}

/** The reason phrase of the status line (`Unauthorized`), redacted and short. */
export function reasonPhrase(response: OutboundResponse, redactor: Redactor): string {
  return redactor.quote(response.statusMessage, MAX_REASON);
}
