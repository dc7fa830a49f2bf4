import { Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, settings } from './config.js';
import { checkSetting, settingsSchema } from './setting.js';

// The settings reader checks values without Ajv (checkSetting); these tests check the schemas
// against the meta-schema, and checkSetting's answers against Ajv's.
describe('the settings schema', () => {
  it('is a valid JSON Schema', () => {
    const meta = new Ajv({ strict: false });
    expect(meta.validateSchema(settingsSchema(settings)), meta.errorsText()).toBe(true);
  });

  it('would be refused with a malformed keyword (the check above checks)', () => {
    const meta = new Ajv({ strict: false });
    const broken = {
      ...settings,
      port: { ...settings.port, schema: Type.Unsafe({ type: 'integer', minimum: '0' }) },
    };
    expect(meta.validateSchema(settingsSchema(broken))).toBe(false);
  });
});

describe('checkSetting', () => {
  const values = [
    ...['x', '-1', '0', '1', '2', '99999999', '100000001', '65535', '65536', '0x10', '1e3', ' 12 ', '  '],
    ...['1.5', '-0', '+5', '5.', '.5', '0b11', '1_000', 'NaN', '200', '201', '202', '200.0', 'true'],
    ...['postgres://', 'sqlite::memory:', '10.0.0.0/99', 'a b', '\u0007'.repeat(20), 'short'],
    ...[
      'a-key-of-16-chars',
      'schlüssel-0123456789',
      'key-🔑-0123456789abc',
      '🔑'.repeat(16),
      '🔑'.repeat(15),
    ],
    ...['info', 'loud', 'json', 'FULL', 'OFF', 'on', 'off', 'key', 'open', 'never', 'redis://x', 'http://z'],
  ];

  it.each(Object.values(settings).map((spec) => [spec.variable, spec]))(
    'answers %s as Ajv (coerceTypes, allErrors) does',
    (_variable, spec) => {
      const ajv = new Ajv({ coerceTypes: true, allErrors: true, strict: false });
      const validate = ajv.compile({ type: 'object', properties: { value: spec.schema } });
      for (const value of values) {
        const data = { value };
        validate(data);
        const expected = (validate.errors ?? []).map((error) => [error.keyword, error.message, error.params]);
        const { value: checked, errors } = checkSetting(spec.schema, value);
        const got = errors.map((error) => [error.keyword, error.message, error.params]);
        expect([value, checked, got]).toEqual([value, data.value, expected]);
      }
    },
  );

  it('refuses ±Infinity for a bounded integer (which Ajv let through)', () => {
    expect(() => loadConfig({ PORT: 'Infinity' })).toThrow('PORT must be <= 65535');
    expect(() => loadConfig({ PLUGBOARD_DELIVERY_CONCURRENCY: '-Infinity' })).toThrow(
      'PLUGBOARD_DELIVERY_CONCURRENCY must be >= 1',
    );
  });

  it('throws on a keyword it does not check, rather than let a value through', () => {
    expect(() => checkSetting(Type.String({ format: 'uri' }), 'x')).toThrow(/format/);
    expect(() => checkSetting(Type.Boolean(), 'true')).toThrow(/boolean/);
  });
});

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      database: { kind: 'sqlite', path: './data/plugboard.db' },
      logLevel: 'info',
      apiKey: undefined,
      createStatus: 201,
      sqliteSynchronous: 'FULL',
      databasePoolSize: 10,
      masterKey: undefined,
      previousMasterKeys: undefined,
      revealSecrets: 'write-keys',
      allowedTargets: [],
      deliveryQueueCap: 10_000,
      deliveryConcurrency: 8,
      deliveryTimeout: 10,
      deliveryRetentionDays: 7,
      deliveryThread: 'on',
      metrics: 'key',
      logFormat: undefined,
      postgresReadCache: 'on',
      console: 'on',
    });
  });

  it('reads every setting', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'sqlite:/tmp/x.db',
      LOG_LEVEL: 'warn',
      PLUGBOARD_API_KEY: 'a-key-of-16-chars',
      PLUGBOARD_CREATE_STATUS: '200',
      PLUGBOARD_SQLITE_SYNCHRONOUS: 'NORMAL',
      PLUGBOARD_METRICS: 'open',
      LOG_FORMAT: 'pretty',
      PLUGBOARD_CONSOLE: 'off',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      logLevel: 'warn',
      createStatus: 200,
      metrics: 'open',
      logFormat: 'pretty',
      console: 'off',
    });
    expect(config.apiKey).toBe('a-key-of-16-chars');
    expect(config.sqliteSynchronous).toBe('NORMAL');
  });

  it.each([
    [{ PORT: '70000' }, /PORT/],
    [{ PORT: 'eighty' }, /PORT/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of fatal, error/],
    [{ PLUGBOARD_CREATE_STATUS: '202' }, /PLUGBOARD_CREATE_STATUS must be one of 200, 201/],
    [{ PLUGBOARD_SQLITE_SYNCHRONOUS: 'OFF' }, /PLUGBOARD_SQLITE_SYNCHRONOUS/],
    [{ PLUGBOARD_METRICS: 'on' }, /PLUGBOARD_METRICS must be one of key, open, off/],
    [{ LOG_FORMAT: 'text' }, /LOG_FORMAT must be one of json, pretty/],
    [{ PLUGBOARD_CONSOLE: 'no' }, /PLUGBOARD_CONSOLE must be one of on, off/],
    [{ DATABASE_URL: 'postgres://u:pw@h' }, /names no PostgreSQL database/],
    [{ DATABASE_POOL_SIZE: '0' }, /DATABASE_POOL_SIZE/],
    [
      { PLUGBOARD_ALLOWED_TARGETS: 'jira.corp.local,10.0.0.0/99' },
      /PLUGBOARD_ALLOWED_TARGETS: .*10\.0\.0\.0\/99/,
    ],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reports every bad setting at once', () => {
    expect(() =>
      loadConfig({ PORT: 'x', DATABASE_URL: 'postgres://u:pw@h', PLUGBOARD_RATE_LIMIT: 'fast' }),
    ).toThrow(
      /^invalid environment: PORT must be integer; DATABASE_URL names no PostgreSQL database.*; PLUGBOARD_RATE_LIMIT must be/,
    );
  });

  it.each(Object.values(settings).map((setting) => [setting.variable]))(
    'names %s first in the message about a value it refuses',
    (variable) => {
      let refused = 0;
      for (const value of ['x', '-1', '99999999', 'postgres://', '10.0.0.0/99', 'a b', '\u0007'.repeat(20)]) {
        try {
          loadConfig({ [variable]: value });
        } catch (error) {
          refused++;
          expect(error).toBeInstanceOf(ConfigError);
          expect((error as Error).message.startsWith(`invalid environment: ${variable}`)).toBe(true);
        }
      }
      const free = ['HOST', 'PLUGBOARD_MASTER_KEY', 'PLUGBOARD_PREVIOUS_MASTER_KEYS'];
      if (!free.includes(variable)) expect(refused).toBeGreaterThan(0);
    },
  );

  it('refuses a short PLUGBOARD_API_KEY without repeating it', () => {
    try {
      loadConfig({ PLUGBOARD_API_KEY: 'short-key' });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toMatch(/PLUGBOARD_API_KEY must be at least 16 characters/);
      expect(String(error)).not.toContain('short-key');
    }
  });

  it.each([
    ['a space inside', 'a-key-with a-space', 'a space (character 11)'],
    ['a trailing line break', 'a-key-of-16-chars\n', 'a line break (character 18)'],
    ['a carriage return', 'a-key-of-16-chars\r', 'a line break (character 18)'],
    ['a tab', '\ta-key-of-16-chars', 'a tab (character 1)'],
    ['a non-ASCII letter', 'schlüssel-0123456789', 'a non-ASCII character (character 5)'],
    ['an emoji', 'key-🔑-0123456789abc', 'a non-ASCII character (character 5)'],
    ['a control character', 'a-key-of-16\u0007chars', 'a control character (character 12)'],
    ['DEL', 'a-key-of-16\u007fchars', 'a control character (character 12)'],
  ])(
    'refuses a PLUGBOARD_API_KEY with %s, saying what and how to fix it, without repeating it',
    (_label, key, what) => {
      let message = '';
      try {
        loadConfig({ PLUGBOARD_API_KEY: key });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = String(error);
      }
      expect(message).toContain(`PLUGBOARD_API_KEY contains ${what}`);
      expect(message).toMatch(/visible ASCII/);
      expect(message).toMatch(/Remove the character/);
      expect(message).not.toContain(key.trim());
      for (const part of key.split(/[^\x21-\x7E]/).filter((p) => p.length > 3))
        expect(message).not.toContain(part);
    },
  );

  it('reports a short key with a space as both problems', () => {
    expect(() => loadConfig({ PLUGBOARD_API_KEY: 'short key' })).toThrow(
      /at least 16 characters; PLUGBOARD_API_KEY contains a space/,
    );
  });

  it.each(['pb_AbC-123_xyz~+/=0987', '!"#$%&\'()*+,-./0123456789:;<=>?@[\\]^_`{|}~'])(
    'accepts a key of visible ASCII: %s',
    (key) => {
      expect(loadConfig({ PLUGBOARD_API_KEY: key }).apiKey).toBe(key);
    },
  );
});

describe('PLUGBOARD_RATE_LIMIT and REDIS_URL', () => {
  it('are off by default', () => {
    expect(loadConfig({})).toMatchObject({ rateLimit: undefined, redisUrl: undefined });
  });

  it.each([
    ['300/min', 300, 60_000],
    ['5/s', 5, 1_000],
    ['1000 / h', 1000, 3_600_000],
  ])('reads %s', (value, max, windowMs) => {
    const { rateLimit } = loadConfig({ PLUGBOARD_RATE_LIMIT: value });
    expect(rateLimit?.perKey).toMatchObject({ max, windowMs });
    expect(rateLimit?.perIp).toBeUndefined();
  });

  it('reads the ilert preset: 120 a minute per key and 700 a minute per IP', () => {
    const { rateLimit } = loadConfig({ PLUGBOARD_RATE_LIMIT: 'ilert', REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(rateLimit).toEqual({
      perKey: { max: 120, windowMs: 60_000, per: 'minute' },
      perIp: { max: 700, windowMs: 60_000, per: 'minute' },
      description: 'ilert',
    });
    expect(loadConfig({ REDIS_URL: 'rediss://h:6380/1' }).redisUrl).toBe('rediss://h:6380/1');
  });

  it.each(['300', '300/day', '0/min', '-5/min', '1.5/s', 'fast', '300/min,ilert'])('refuses %j', (value) => {
    expect(() => loadConfig({ PLUGBOARD_RATE_LIMIT: value })).toThrow(ConfigError);
    expect(() => loadConfig({ PLUGBOARD_RATE_LIMIT: value })).toThrow(
      'PLUGBOARD_RATE_LIMIT must be `<n>/s`, `<n>/min`, `<n>/h` (e.g. `300/min`) or `ilert`',
    );
  });

  it('refuses a REDIS_URL that is not a redis:// URL', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(
      'REDIS_URL must be a redis:// or rediss:// URL',
    );
  });
});
