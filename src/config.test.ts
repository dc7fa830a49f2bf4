import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      database: { kind: 'sqlite', path: './data/plugboard.db' },
      logLevel: 'info',
      apiKey: undefined,
      createStatus: 200,
      sqliteSynchronous: 'FULL',
      masterKey: undefined,
      previousMasterKeys: undefined,
      revealSecrets: 'write-keys',
      allowedTargets: [],
    });
  });

  it('reads every setting', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'sqlite:/tmp/x.db',
      LOG_LEVEL: 'warn',
      PLUGBOARD_API_KEY: 'a-key-of-16-chars',
      PLUGBOARD_CREATE_STATUS: '201',
      PLUGBOARD_SQLITE_SYNCHRONOUS: 'NORMAL',
    });
    expect(config).toMatchObject({ port: 9000, host: '0.0.0.0', logLevel: 'warn', createStatus: 201 });
    expect(config.apiKey).toBe('a-key-of-16-chars');
    expect(config.sqliteSynchronous).toBe('NORMAL');
  });

  it.each([
    [{ PORT: '70000' }, /PORT/],
    [{ PORT: 'eighty' }, /PORT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of fatal, error/],
    [{ PLUGBOARD_CREATE_STATUS: '202' }, /PLUGBOARD_CREATE_STATUS must be one of 200, 201/],
    [{ PLUGBOARD_SQLITE_SYNCHRONOUS: 'OFF' }, /PLUGBOARD_SQLITE_SYNCHRONOUS/],
    [{ DATABASE_URL: 'postgres://u:pw@h/db' }, /PostgreSQL/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('refuses a short PLUGBOARD_API_KEY without repeating it', () => {
    try {
      loadConfig({ PLUGBOARD_API_KEY: 'short-key' });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toMatch(/PLUGBOARD_API_KEY must be at least 16 characters/);
      expect(String(error)).not.toContain('short-key');
    }
  });
});
