import { describe, expect, it } from 'vitest';
import { DatabaseUrlError, DEFAULT_DATABASE_URL, parseDatabaseUrl } from './location.js';

describe('parseDatabaseUrl', () => {
  it('defaults to the embedded database file', () => {
    expect(DEFAULT_DATABASE_URL).toBe('sqlite:./data/plugboard.db');
    expect(parseDatabaseUrl(undefined)).toEqual({ kind: 'sqlite', path: './data/plugboard.db' });
    expect(parseDatabaseUrl('')).toEqual({ kind: 'sqlite', path: './data/plugboard.db' });
  });

  it.each([
    ['sqlite:/var/lib/plugboard/p.db', '/var/lib/plugboard/p.db'],
    ['sqlite:relative.db', 'relative.db'],
    ['sqlite:///abs/p.db', '/abs/p.db'],
    ['sqlite::memory:', ':memory:'],
  ])('reads %s', (url, path) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind: 'sqlite', path });
  });

  it.each([
    ['postgres://u:hunter2@db/plugboard', 'db:5432/plugboard'],
    ['postgresql://u:hunter2@db.example.com:6432/p%20b', 'db.example.com:6432/p b'],
  ])('reads %s, describing it without the password', (url, description) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind: 'postgres', url, description });
  });

  it.each([
    'postgres://u:hunter2@db',
    'postgres://u:hunter2@db/',
    'postgres://u:hunter2@/plugboard',
    'postgres://u:hunter2@db:99999/plugboard',
  ])('refuses %s with a message that says how to write it and hides the password', (url) => {
    expect(() => parseDatabaseUrl(url)).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl(url)).toThrow(/postgres:\/\/USER/);
    try {
      parseDatabaseUrl(url);
    } catch (error) {
      expect(String(error)).not.toContain('hunter2');
    }
  });

  it.each(['mysql://x', 'sqlite:', '/just/a/path.db'])('refuses %s', (url) => {
    expect(() => parseDatabaseUrl(url)).toThrow(DatabaseUrlError);
  });
});
