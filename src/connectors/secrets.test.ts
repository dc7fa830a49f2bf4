import { describe, expect, it } from 'vitest';
import { defineConnectorType, param } from './define.js';
import { joinSecrets, keepStoredSecrets, SECRET_PLACEHOLDER, splitSecrets } from './secrets.js';

/** A secret declared between plain params, and optional secrets, one of them a URL. */
const example = defineConnectorType({
  id: 'secrets_example',
  displayName: 'Secrets example',
  description: 'a type with every kind of param the secret handling tells apart',
  params: {
    url: param.url('where the target is'),
    token: param.secret('a credential'),
    user: param.text('a plain param declared after a secret'),
    callback: param.url('an optional secret URL', { secret: true, required: false }),
    extra: param.secret('an optional credential', { required: false }),
  },
  check: { kind: 'offline', reason: 'a type for tests' },
});

describe('splitSecrets and joinSecrets', () => {
  it('the declared secrets, and only they, go to the sealed half', () => {
    const params = {
      user: 'u',
      token: 't',
      url: 'https://a.example.com',
      callback: 'https://cb.example.com/x',
    };
    expect(splitSecrets(example, params)).toStrictEqual({
      plain: { user: 'u', url: 'https://a.example.com' },
      secret: { token: 't', callback: 'https://cb.example.com/x' },
    });
  });

  it('joined, the params come back in the order the type declares them, the secret between the plain ones', () => {
    const joined = joinSecrets(example, { user: 'u', url: 'https://a.example.com' }, { token: 't' });
    expect(Object.entries(joined)).toEqual([
      ['url', 'https://a.example.com'],
      ['token', 't'],
      ['user', 'u'],
    ]);
  });

  it('an optional param that was not stored is absent from the joined params, not present as undefined', () => {
    expect(joinSecrets(example, { url: 'https://a.example.com' }, { token: 't' })).toStrictEqual({
      url: 'https://a.example.com',
      token: 't',
    });
  });

  it('a stored param the type no longer declares is kept, after the declared ones', () => {
    const joined = joinSecrets(example, { retired: 'r', url: 'https://a.example.com' }, { token: 't' });
    expect(Object.keys(joined)).toEqual(['url', 'token', 'retired']);
    expect(joined.retired).toBe('r');
  });
});

describe('keepStoredSecrets: a secret never stored', () => {
  const stored = { url: 'https://a.example.com', token: 'stored-token', user: 'u' };

  it('sent back as the placeholder while the URL changes, it is no value: dropped, not refused', () => {
    const moved = { url: 'https://b.example.com', token: 'new-token', user: 'u' };
    expect(
      keepStoredSecrets(example, { ...moved, extra: SECRET_PLACEHOLDER }, stored, { keepOmitted: false }),
    ).toStrictEqual({ params: moved, refused: [] });
    // Left out with secrets write-only: the same.
    expect(keepStoredSecrets(example, moved, stored, { keepOmitted: true })).toStrictEqual({
      params: moved,
      refused: [],
    });
  });

  it('a secret URL never stored and sent back as the placeholder is no URL change: the stored secrets are kept', () => {
    const params = { ...stored, token: SECRET_PLACEHOLDER, callback: SECRET_PLACEHOLDER };
    expect(keepStoredSecrets(example, params, stored, { keepOmitted: false })).toStrictEqual({
      params: stored,
      refused: [],
    });
  });
});
