import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { connectorTypes } from './registry.js';
import { compiledSchemas, isHttpUrl, parseConnectorInput } from './validate.js';

// The validators are compiled without checking their schemas against the meta-schema (that check
// costs more than the compiles, at every start); this test is that check, for every schema.
describe('the schemas parseConnectorInput compiles', () => {
  it('are one for any type and one per registered type, each a valid JSON Schema', () => {
    const schemas = compiledSchemas();
    expect(schemas).toHaveLength(connectorTypes.length + 1);
    const meta = new Ajv({ strict: false });
    for (const schema of schemas) expect(meta.validateSchema(schema), meta.errorsText()).toBe(true);
    expect(meta.validateSchema({ ...schemas[0], required: 'type' })).toBe(false);
  });
});

describe('isHttpUrl', () => {
  it.each([
    'https://example.atlassian.net',
    'http://jira.internal:8080/base',
    'https://user@example.com/path?q=1#frag',
    'https://[::1]:8443/',
    'HTTPS://EXAMPLE.COM',
  ])('accepts %s', (url) => expect(isHttpUrl(url)).toBe(true));

  it.each([
    '',
    'example.com',
    '/relative/path',
    'ftp://example.com',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'mailto:a@example.com',
    'https://',
    'http:example.com',
    ' https://example.com',
    'https://example.com ',
    'https://exa mple.com',
    'https://example.com/\n',
    'xhttps://example.com',
    'http://',
    'https://exa%mple.com',
  ])('rejects %j', (url) => expect(isHttpUrl(url)).toBe(false));
});

/** The 400 parseConnectorInput throws for `body`: its message and details. */
function refusal(body: unknown): { message: string; details: unknown } {
  try {
    parseConnectorInput(body);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { message: error.message, details: error.details };
  }
  throw new Error('expected parseConnectorInput to refuse the body');
}

const jira = { url: 'https://x.atlassian.net', email: 'a@example.com', password: 'token' };

describe('parseConnectorInput: the fields and words of its 400s', () => {
  it('a missing body says how to send one', () => {
    expect(refusal(undefined)).toEqual({
      message: 'request body is required: send the connector as JSON with Content-Type: application/json',
      details: [{ field: '', message: 'is required' }],
    });
  });

  it.each([[[]], ['x'], [null]])('a body that is not an object (%j) says so', (body) => {
    expect(refusal(body)).toEqual({
      message: 'request body must be a JSON object',
      details: [{ field: '', message: 'must be an object' }],
    });
  });

  it('a key with / and ~ is escaped in the JSON pointer as ~1 and ~0 (RFC 6901), at the top and in params', () => {
    expect(refusal({ type: 'jira', name: 'n', params: jira, 'a/b~c': 1 }).details).toEqual([
      {
        field: '/a~1b~0c',
        message:
          'unknown field "a/b~c"; allowed fields: type, name, params (id, createdAt, updatedAt, lastCheck are set by the server and ignored)',
      },
    ]);
    expect(refusal({ type: 'jira', name: 'n', params: { ...jira, 'a/b~c': 'x' } }).details).toEqual([
      {
        field: '/params/a~1b~0c',
        message: 'unknown key "a/b~c" for type jira; allowed keys: url, email, password',
      },
    ]);
  });

  it('~1 in a key stays apart from / : "~1" is escaped as ~01, not read as a slash', () => {
    expect(refusal({ type: 'jira', name: 'n', params: { ...jira, '~1': 'x' } }).details).toEqual([
      { field: '/params/~01', message: 'unknown key "~1" for type jira; allowed keys: url, email, password' },
    ]);
  });

  it('a missing params names what the type needs; a missing param names the type', () => {
    expect(refusal({ type: 'jira', name: 'n' })).toEqual({
      message: 'invalid connector: /params is required for type jira; it needs url, email, password',
      details: [{ field: '/params', message: 'is required for type jira; it needs url, email, password' }],
    });
    expect(
      refusal({ type: 'jira', name: 'n', params: { url: jira.url, email: jira.email } }).details,
    ).toEqual([{ field: '/params/password', message: 'is required for type jira' }]);
  });

  it('a missing name is just required, even when the type is known', () => {
    expect(refusal({ type: 'jira', params: jira }).details).toEqual([
      { field: '/name', message: 'is required' },
    ]);
  });

  it('a body without type or name: each is required, with no type to name', () => {
    expect(refusal({}).details).toEqual([
      { field: '/type', message: 'is required' },
      { field: '/name', message: 'is required' },
    ]);
  });

  it('wrong JSON types say "an object" and "a string"', () => {
    expect(refusal({ type: 'jira', name: 'n', params: 5 }).details).toEqual([
      { field: '/params', message: 'must be an object' },
    ]);
    expect(refusal({ type: 5, name: 'n' }).details).toContainEqual({
      field: '/type',
      message: 'must be a string',
    });
  });

  it('an unknown type lists the accepted ones', () => {
    const { details } = refusal({ type: 'nope', name: 'n' });
    expect(details).toEqual([
      {
        field: '/type',
        message: expect.stringMatching(/^is not a known connector type; accepted types: jira, /),
      },
    ]);
  });

  it('an empty name, a name of 256 characters and a non-http URL each get their own words', () => {
    expect(refusal({ type: 'jira', name: '', params: jira }).details).toEqual([
      { field: '/name', message: 'must not be empty' },
    ]);
    expect(refusal({ type: 'jira', name: 'x'.repeat(256), params: jira }).details).toEqual([
      { field: '/name', message: 'must be at most 255 characters' },
    ]);
    expect(parseConnectorInput({ type: 'jira', name: 'x'.repeat(255), params: jira }).name).toHaveLength(255);
    expect(refusal({ type: 'jira', name: 'n', params: { ...jira, url: 'ftp://x' } }).details).toEqual([
      { field: '/params/url', message: 'must be an absolute http: or https: URL, e.g. https://example.com' },
    ]);
  });

  it('a lone surrogate and a NUL are refused in the name and in a param, by escaped pointer', () => {
    expect(refusal({ type: 'jira', name: 'a\ud800', params: jira })).toEqual({
      message:
        'invalid connector: /name must be valid Unicode text (it holds a lone UTF-16 surrogate, e.g. from a "\\ud800" escape)',
      details: [
        {
          field: '/name',
          message:
            'must be valid Unicode text (it holds a lone UTF-16 surrogate, e.g. from a "\\ud800" escape)',
        },
      ],
    });
    expect(
      refusal({ type: 'jira', name: 'n\u0000', params: { ...jira, password: 'a\u0000\udc00' } }).details,
    ).toEqual([
      { field: '/name', message: 'must not contain the NUL character (U+0000, "\\u0000" in JSON)' },
      {
        field: '/params/password',
        message:
          'must be valid Unicode text (it holds a lone UTF-16 surrogate, e.g. from a "\\ud800" escape)',
      },
      {
        field: '/params/password',
        message: 'must not contain the NUL character (U+0000, "\\u0000" in JSON)',
      },
    ]);
  });

  it('a valid body comes back with its type, name and params', () => {
    const input = parseConnectorInput({ type: 'jira', name: 'n', params: jira });
    expect(input.type.id).toBe('jira');
    expect(input.name).toBe('n');
    expect(input.params).toEqual(jira);
  });
});

describe('parseConnectorInput: what ilert\'s clients send for "not set"', () => {
  it('"params": null is no params: {} for a type that needs none, "it needs …" for one that does', () => {
    expect(parseConnectorInput({ type: 'slack', name: 'n', params: null }).params).toStrictEqual({});
    expect(refusal({ type: 'jira', name: 'n', params: null }).details).toEqual([
      { field: '/params', message: 'is required for type jira; it needs url, email, password' },
    ]);
  });

  it('an optional param sent as "" is not set, whatever its format; a required one sent as "" is refused', () => {
    const params = { url: 'https://a.example.com', responseUrl: '', authorization: '' };
    expect(parseConnectorInput({ type: 'dynamic', name: 'n', params }).params).toStrictEqual({
      url: 'https://a.example.com',
    });
    expect(refusal({ type: 'jira', name: 'n', params: { ...jira, email: '' } }).details).toEqual([
      { field: '/params/email', message: 'must not be empty' },
    ]);
  });

  it('"" is "not set" only for a param the type declares: an unknown key sent as "" is still refused', () => {
    expect(
      refusal({ type: 'dynamic', name: 'n', params: { url: 'https://a.example.com', extra: '' } }).details,
    ).toEqual([
      {
        field: '/params/extra',
        message: 'unknown key "extra" for type dynamic; allowed keys: url, responseUrl, authorization',
      },
    ]);
  });
});
