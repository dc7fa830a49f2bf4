import { type Static, Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { MIN_KEY_LENGTH } from './auth/api-keys.js';
import { parseRateLimit, type RateLimitSetting } from './http/rate-limit-setting.js';
import { parseAllowedTargets } from './outbound/addresses.js';
import { DEFAULT_POOL_SIZE } from './store/database.js';
import { type DatabaseLocation, DEFAULT_DATABASE_URL, parseDatabaseUrl } from './store/location.js';

function Enum<const T extends string | number>(values: readonly T[], fallback: T) {
  return Type.Unsafe<T>({
    type: typeof fallback === 'number' ? 'integer' : 'string',
    enum: values,
    default: fallback,
  });
}

/** The environment Plugboard reads, validated once at start; the README's settings table mirrors it. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATABASE_URL: Type.String({ default: DEFAULT_DATABASE_URL }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_POOL_SIZE }),
  LOG_LEVEL: Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  PLUGBOARD_API_KEY: Type.Optional(Type.String({ minLength: MIN_KEY_LENGTH, pattern: '^[\\x21-\\x7E]*$' })),
  PLUGBOARD_CREATE_STATUS: Enum([200, 201], 200),
  PLUGBOARD_SQLITE_SYNCHRONOUS: Enum(['FULL', 'NORMAL'], 'FULL'),
  PLUGBOARD_MASTER_KEY: Type.Optional(Type.String()),
  PLUGBOARD_PREVIOUS_MASTER_KEYS: Type.Optional(Type.String()),
  PLUGBOARD_REVEAL_SECRETS: Enum(['write-keys', 'never'], 'write-keys'),
  PLUGBOARD_ALLOWED_TARGETS: Type.Optional(Type.String()),
  PLUGBOARD_RATE_LIMIT: Type.Optional(Type.String()),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
});
type Env = Static<typeof EnvSchema>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseLocation;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly apiKey: string | undefined;
  readonly createStatus: 200 | 201;
  readonly sqliteSynchronous: 'FULL' | 'NORMAL';
  /** PostgreSQL: connections per process. */
  readonly databasePoolSize: number;
  /** Base64 master key; unset: a key file beside the SQLite database. */
  readonly masterKey: string | undefined;
  readonly previousMasterKeys: string | undefined;
  /** Who reads secret params back: write keys (the default), or nobody. */
  readonly revealSecrets: RevealSecrets;
  /** Private hosts and CIDRs that credential checks may call (PLUGBOARD_ALLOWED_TARGETS, comma-separated). */
  readonly allowedTargets: readonly string[];
  /** Per-key (and per-IP) request budgets (PLUGBOARD_RATE_LIMIT); unset: no limit. */
  readonly rateLimit: RateLimitSetting | undefined;
  /** Where rate-limit counters live when several servers share them; unset: in memory. */
  readonly redisUrl: string | undefined;
}

export type RevealSecrets = 'write-keys' | 'never';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const validateEnv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true }).compile<Env>(
  EnvSchema,
);

const namedCharacters: Record<string, string> = {
  ' ': 'a space',
  '\t': 'a tab',
  '\n': 'a line break',
  '\r': 'a line break',
};

/**
 * Why PLUGBOARD_API_KEY can never log in, without repeating it: clients send it as
 * `Authorization: Bearer <key>`, which ends at whitespace and carries ASCII only.
 */
function apiKeyCharacters(value: unknown): string {
  const chars = [...(typeof value === 'string' ? value : '')];
  const index = chars.findIndex((char) => !/^[\x21-\x7E]$/.test(char));
  const char = chars[index] ?? '';
  const kind =
    namedCharacters[char] ??
    ((char.codePointAt(0) ?? 0) > 0x7f ? 'a non-ASCII character' : 'a control character');
  return (
    `PLUGBOARD_API_KEY contains ${kind} (character ${index + 1}) and so could never log in: a key is ` +
    'visible ASCII only (letters, digits, punctuation), as clients send it in Authorization: Bearer <key>. ' +
    'Remove the character (often a stray line break or quote from an env file) or use a key from plugboard keys create'
  );
}

/** Reads and checks the environment. Throws ConfigError naming each bad variable; values are never repeated. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const env: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  if (!validateEnv(env)) {
    const problems = (validateEnv.errors ?? []).map((error) => {
      const name = error.instancePath.slice(1);
      if (name === 'PLUGBOARD_API_KEY' && error.keyword === 'pattern') return apiKeyCharacters(env[name]);
      if (name === 'PLUGBOARD_API_KEY')
        return `PLUGBOARD_API_KEY must be at least ${MIN_KEY_LENGTH} characters`;
      if (name === 'REDIS_URL') return 'REDIS_URL must be a redis:// or rediss:// URL';
      if (error.keyword === 'enum') {
        return `${name} must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
      }
      return `${name} ${error.message ?? 'is invalid'}`;
    });
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  let database: DatabaseLocation;
  try {
    database = parseDatabaseUrl(env.DATABASE_URL);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  let rateLimit: RateLimitSetting | undefined;
  try {
    rateLimit = parseRateLimit(env.PLUGBOARD_RATE_LIMIT);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const allowedTargets = (env.PLUGBOARD_ALLOWED_TARGETS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  try {
    parseAllowedTargets(allowedTargets);
  } catch (error) {
    throw new ConfigError(
      `PLUGBOARD_ALLOWED_TARGETS: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return {
    port: env.PORT,
    host: env.HOST,
    database,
    logLevel: env.LOG_LEVEL,
    apiKey: env.PLUGBOARD_API_KEY,
    createStatus: env.PLUGBOARD_CREATE_STATUS,
    sqliteSynchronous: env.PLUGBOARD_SQLITE_SYNCHRONOUS,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    masterKey: env.PLUGBOARD_MASTER_KEY,
    previousMasterKeys: env.PLUGBOARD_PREVIOUS_MASTER_KEYS,
    revealSecrets: env.PLUGBOARD_REVEAL_SECRETS,
    allowedTargets,
    rateLimit,
    redisUrl: env.REDIS_URL,
  };
}
