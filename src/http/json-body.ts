import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError } from '../errors.js';

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
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
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
