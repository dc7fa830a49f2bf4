import type { FastifyInstance } from 'fastify';
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

/**
 * The only body parser: JSON. Any other content type gets 415. An empty body is "no body" rather
 * than an error, because ilert's clients send Content-Type: application/json on bodiless requests
 * (DELETE) too. Parse errors never quote the body, which may hold a secret.
 */
export function installJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
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
          400,
          'MALFORMED_JSON',
          forbidden
            ? 'the request body must not contain "__proto__" or "constructor.prototype" keys'
            : 'the request body is not valid JSON; check its quotes, commas and brackets',
        ),
        undefined,
      );
    }
  });
}
