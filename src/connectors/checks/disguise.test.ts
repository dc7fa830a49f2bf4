import { describe, expect, it } from 'vitest';
import { disguises } from '../../../test/disguises.js';
import { basicAuth } from './http.js';
import { Redactor, WITHHELD } from './redact.js';
import { quoteShort, reasonPhrase, targetSaid } from './said.js';

const USER = 'me@x.io';
// A slash, a quote, a letter beyond ASCII and a base64 with a slash: each encoding differs from the others.
const PASSWORD = 'S3cret/Pa"ssw0rd~?é';
const TABLE = disguises(PASSWORD, USER);

/** The redactor of a Jira check: the password param and the basic-auth header it sent. */
function jiraRedactor(): Redactor {
  const redactor = new Redactor();
  redactor.addSecret(PASSWORD);
  redactor.addHeader('Authorization', basicAuth(USER, PASSWORD));
  return redactor;
}

/** Each place a target's words are quoted from, with the quote it makes of `said`. */
const CHANNELS: Record<string, (said: string, redactor: Redactor) => string | undefined> = {
  'a JSON error message': (said, r) => targetSaid(JSON.stringify({ errorMessages: [said] }), r),
  'an HTML page': (said, r) => targetSaid(`<html><body><h1>${said}</h1></body></html>`, r),
  'a text page': (said, r) => targetSaid(`${said}\n`, r),
  'a reason phrase': (said, r) =>
    reasonPhrase({ status: 401, statusMessage: said, headers: {}, body: '', url: 'http://x' }, r),
  'a header': (said, r) => quoteShort(said, r),
};

/** Either the whole quote is withheld, or every trace of the credential was replaced by the placeholder. */
const SAFE = new Set([WITHHELD, 'Bad password: ********']);

describe(`a credential echoed in each of ${TABLE.length} encodings`, () => {
  it('the table has at least the 56 encodings of the finding', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(56);
    expect(new Set(TABLE.map(([, text]) => text)).size).toBe(TABLE.length);
    expect(new Set(TABLE.map(([name]) => name)).size).toBe(TABLE.length);
  });

  describe.each(Object.entries(CHANNELS))('in %s', (_channel, quoteOf) => {
    it.each(TABLE)('%s: never quoted', (_name, encoded) => {
      const quote = quoteOf(`Bad password: ${encoded}`, jiraRedactor());
      // The HTML channel decodes entities itself; a table row of entities is then plain.
      expect(SAFE.has(quote ?? ''), `${JSON.stringify(encoded)} → ${JSON.stringify(quote)}`).toBe(true);
    });
  });
});

describe('what is still quoted', () => {
  it.each([
    'Client must be authenticated to access this resource.',
    'Invalid username or password',
    'The operator account is blocked.',
    'Basic authentication with passwords is deprecated; use an API token',
    'User me@x.io has no permission',
    '401 Unauthorized: 5f3c 9a1b request 0x7f3e',
  ])('%s', (said) => {
    expect(targetSaid(JSON.stringify({ message: said }), jiraRedactor())).toBe(said);
  });

  it('withholds the quote, not the rest: exact forms still become the placeholder', () => {
    expect(targetSaid(JSON.stringify({ message: `bad ${PASSWORD}` }), jiraRedactor())).toBe('bad ********');
    expect(targetSaid(JSON.stringify({ message: `bad ${PASSWORD.toUpperCase()}` }), jiraRedactor())).toBe(
      WITHHELD,
    );
  });
});
