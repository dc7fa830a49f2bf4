import type { OutboundResponse } from '../../outbound/types.js';
import type { Redactor } from './redact.js';

/** The longest quote of a target's message, and of its reason phrase. */
const MAX_SAID = 200;
const MAX_REASON = 60;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body parsed as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** The first non-empty string in `values`, looking into arrays and objects breadth-first, boundedly. */
function firstString(...values: unknown[]): string | undefined {
  const queue: unknown[] = [...values];
  for (let seen = 0; seen < queue.length && seen < 200; seen++) {
    const value = queue[seen];
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
  return `${message.trim()} ${data.trim()}`.trim();
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

/** The first non-empty line of a text or HTML body, tags stripped. */
function fromText(body: string): string | undefined {
  const text = body
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, '\n')
    .replace(/<!--[\s\S]*?-->/g, '\n')
    .replace(/<\/?(br|p|div|h[1-6]|title|li|tr|table|pre|hr|head|body|html)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ');
  for (const line of decodeEntities(text).split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed !== '') return trimmed;
  }
  return undefined;
}

/** One line of printable text: no control or format (e.g. direction-changing) characters, runs of spaces collapsed. */
function oneLine(text: string): string {
  return text
    .replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * What the target said in its body — the message of a JSON error, else the first line of a text or
 * HTML page — on one line, at most 200 characters. The raw body is redacted before anything is taken
 * from it, and the quote again before it is cut, so that no form of a credential survives either step.
 */
export function targetSaid(body: string, redactor: Redactor): string | undefined {
  const clean = redactor.redact(body);
  const json = parseJson(clean);
  const found = json ? fromJson(json.value) : fromText(clean);
  if (found === undefined) return undefined;
  const line = oneLine(found);
  return line === '' ? undefined : redactor.truncate(line, MAX_SAID);
}

/** The reason phrase of the status line (`Unauthorized`), redacted and short. */
export function reasonPhrase(response: OutboundResponse, redactor: Redactor): string {
  return redactor.truncate(oneLine(response.statusMessage), MAX_REASON);
}
