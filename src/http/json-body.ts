import { isAscii, isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError, errors } from '../errors.js';

/**
 * The deepest nesting a body may have; a connector is two levels deep. A deeper body (64 KiB holds
 * 32,000 levels) is refused here, before anything recursive walks it: hashing it for an
 * Idempotency-Key with JSON.stringify overflowed the stack (a 500).
 */
export const MAX_JSON_DEPTH = 32;

/** The nesting depth of valid JSON text, without recursion. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c)
        i++; // a backslash escapes the next character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (char === 0x7d || char === 0x5d) depth--;
  }
  return deepest;
}

const isWhitespace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
const isDigit = (code: number) => code >= 0x30 && code <= 0x39;
const isHex = (char: string | undefined) => char !== undefined && /^[0-9a-fA-F]$/.test(char);
const closing = { '{': '}', '[': ']' } as const;

/**
 * Where text that JSON.parse refused stops being JSON (RFC 8259): the offset of the first character
 * that cannot continue it (the length when the text ends too early), or -1 if none is found. A scan
 * of its own, without recursion, because V8's messages give no position for an unexpected token
 * (they quote the body instead) and differ between Node versions.
 */
export function jsonErrorOffset(text: string): number {
  return new JsonScan(text).errorOffset();
}

class JsonScan {
  private i: number;
  /** The open objects and arrays, innermost last. */
  private readonly open: ('{' | '[')[] = [];

  constructor(private readonly text: string) {
    this.i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // secure-json-parse drops a byte order mark
  }

  errorOffset(): number {
    let expectValue = true;
    for (;;) {
      this.skipWhitespace();
      if (expectValue) {
        const result = this.value();
        if (result === 'error') return this.i;
        expectValue = result === 'opened';
        continue;
      }
      const innermost = this.open.at(-1);
      if (innermost === undefined) return this.i < this.text.length ? this.i : -1;
      const char = this.text[this.i];
      if (char === ',') {
        this.i++;
        if (innermost === '{' && !this.member()) return this.i;
        expectValue = true;
      } else if (char === closing[innermost]) {
        this.open.pop();
        this.i++;
      } else return this.i;
    }
  }

  /** A scalar or an empty container ('done'), or the start of a non-empty one ('opened'). */
  private value(): 'done' | 'opened' | 'error' {
    const char = this.text[this.i];
    if (char === '{' || char === '[') {
      this.i++;
      this.skipWhitespace();
      if (this.text[this.i] === closing[char]) {
        this.i++;
        return 'done';
      }
      if (char === '{' && !this.member()) return 'error';
      this.open.push(char);
      return 'opened';
    }
    let ok: boolean;
    if (char === '"') ok = this.string();
    else if (char === '-' || isDigit(this.text.charCodeAt(this.i))) ok = this.number();
    else ok = this.word(char === 't' ? 'true' : char === 'f' ? 'false' : 'null');
    return ok ? 'done' : 'error';
  }

  /** `"name":` of an object member. */
  private member(): boolean {
    this.skipWhitespace();
    if (this.text[this.i] !== '"' || !this.string()) return false;
    this.skipWhitespace();
    return this.word(':');
  }

  private string(): boolean {
    const { text } = this;
    for (this.i++; this.i < text.length; this.i++) {
      const code = text.charCodeAt(this.i);
      if (code === 0x22) {
        this.i++;
        return true;
      }
      if (code < 0x20) return false;
      if (code !== 0x5c) continue;
      this.i++;
      if (text[this.i] === 'u') {
        for (let n = 0; n < 4; n++) if (!isHex(text[++this.i])) return false;
      } else if (!'"\\/bfnrt'.includes(text[this.i] ?? 'x')) return false;
    }
    return false;
  }

  private number(): boolean {
    if (this.text[this.i] === '-') this.i++;
    if (this.text[this.i] === '0') this.i++;
    else if (!this.digits()) return false;
    if (this.text[this.i] === '.') {
      this.i++;
      if (!this.digits()) return false;
    }
    if (this.text[this.i] !== 'e' && this.text[this.i] !== 'E') return true;
    this.i++;
    if (this.text[this.i] === '+' || this.text[this.i] === '-') this.i++;
    return this.digits();
  }

  private digits(): boolean {
    const start = this.i;
    while (isDigit(this.text.charCodeAt(this.i))) this.i++;
    return this.i > start;
  }

  private word(expected: string): boolean {
    for (const char of expected) {
      if (this.text[this.i] !== char) return false;
      this.i++;
    }
    return true;
  }

  private skipWhitespace(): void {
    while (this.i < this.text.length && isWhitespace(this.text.charCodeAt(this.i))) this.i++;
  }
}

/** `application/<subtype>+json`, with or without parameters (Fastify tests it on the lower-cased type). */
const JSON_SUFFIX_TYPE = /^application\/[\w!#$%&'*+.^`|~-]+\+json(?:\s*;|\s*$)/;

/** Where JSON.parse's complaint is, by line and column (from 1), never quoting the body. */
function malformed(text: string): string {
  const offset = jsonErrorOffset(text);
  const fix = 'check its quotes, commas and brackets';
  if (offset < 0) return `the request body is not valid JSON; ${fix}`;
  if (offset >= text.length) return `the request body is not valid JSON: it ends too early; ${fix}`;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `the request body is not valid JSON at line ${line}, column ${column} (character ${offset + 1}); ${fix} there`;
}

/**
 * The only body parser: JSON, as `application/json` or any structured-syntax `+json` type
 * (RFC 6839: application/merge-patch+json, application/vnd.api+json…). Any other content type
 * gets 415. An empty body is "no body" rather than an error, because ilert's clients send
 * Content-Type: application/json on bodiless requests (DELETE) too. Parse errors never quote the
 * body, which may hold a secret.
 */
export function installJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  // As bytes, not as a string: decoding to a string would replace bytes that are not UTF-8 with
  // U+FFFD, and store a secret (a Latin-1 password) other than the one that was sent.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
  app.addContentTypeParser(JSON_SUFFIX_TYPE, { parseAs: 'buffer' }, parseJson);
}

/** Charsets a JSON body may name: UTF-8, and ASCII, which is UTF-8's first 128 characters (the bytes are checked below). */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);
/**
 * Charsets whose first 128 characters are ASCII's: a body in one of them that is all ASCII is the
 * same bytes in UTF-8 (older Spring RestTemplate setups declare ISO-8859-1 on every JSON body).
 */
const ASCII_COMPATIBLE = new Set(['iso-8859-1', 'latin1', 'windows-1252', 'cp1252']);

/** The `charset` parameter of a Content-Type, lower-cased, or undefined. */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/**
 * Why a body cannot be read as UTF-8 JSON, from its headers: a content coding (gzip…), which the
 * server does not undo, or a charset other than UTF-8 (RFC 8259: JSON is UTF-8). Either used to
 * reach the parser as bytes and come back as "not valid JSON at line 1, column 1".
 */
function unreadableEncoding(request: FastifyRequest, body: string | Buffer): string | undefined {
  const coding = request.headers['content-encoding']?.trim().toLowerCase();
  if (coding && coding !== 'identity')
    return `Content-Encoding ${coding} is not supported: send the body uncompressed (connectors are small)`;
  // An empty `charset=` says nothing: as if it were not there.
  const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase() || undefined;
  if (charset === undefined || UTF8_CHARSETS.has(charset)) return undefined;
  if (ASCII_COMPATIBLE.has(charset) && isAscii(Buffer.isBuffer(body) ? body : Buffer.from(body)))
    return undefined;
  return `charset ${charset} is not supported${ASCII_COMPATIBLE.has(charset) ? ' for a body that is not all ASCII' : ''}: send the JSON as UTF-8 (Content-Type: application/json)`;
}

/** Whether a body is empty or only JSON whitespace: no body, whatever its headers say. */
function blank(body: string | Buffer): boolean {
  if (typeof body === 'string') return body.trim() === '';
  for (const byte of body) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  return true;
}

function parseJson(
  request: FastifyRequest,
  body: string | Buffer,
  done: (error: Error | null, value?: unknown) => void,
): void {
  // First: a bodiless DELETE or GET that names a Content-Type (with a charset, an encoding) has
  // nothing to decode, and is answered as one without a body, as before.
  if (blank(body)) {
    done(null, undefined);
    return;
  }
  const unreadable = unreadableEncoding(request, body);
  if (unreadable !== undefined) {
    done(new AppError('UNSUPPORTED_MEDIA_TYPE', unreadable), undefined);
    return;
  }
  if (typeof body !== 'string' && !isUtf8(body)) {
    done(
      new AppError(
        'MALFORMED_JSON',
        'the request body is not valid UTF-8; JSON must be sent as UTF-8 (RFC 8259), not Latin-1 or UTF-16',
      ),
      undefined,
    );
    return;
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') {
    done(null, undefined);
    return;
  }
  try {
    const value: unknown = secureJson.parse(text, undefined, {
      protoAction: 'error',
      constructorAction: 'error',
    });
    if (nestingDepth(text) > MAX_JSON_DEPTH) {
      done(
        errors.validation(`the request body is nested more than ${MAX_JSON_DEPTH} levels deep`, [
          { field: '', message: `must not be nested more than ${MAX_JSON_DEPTH} levels deep` },
        ]),
        undefined,
      );
      return;
    }
    done(null, value);
  } catch (error) {
    const forbidden = error instanceof SyntaxError && /forbidden prototype/i.test(error.message);
    done(
      new AppError(
        'MALFORMED_JSON',
        forbidden
          ? 'the request body must not contain "__proto__" or "constructor.prototype" keys'
          : malformed(text),
      ),
      undefined,
    );
  }
}
