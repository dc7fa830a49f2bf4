import { describe, expect, it } from 'vitest';
import { isHttpUrl } from './validate.js';

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
  ])('rejects %j', (url) => expect(isHttpUrl(url)).toBe(false));
});
