import { Type } from '@sinclair/typebox';
import { MIN_KEY_LENGTH } from './auth/api-keys.js';
import { parseRateLimit } from './http/rate-limit-setting.js';
import { parseAllowedTargets } from './outbound/allowed-targets.js';
import { choices, oneOf, optional, setting, settingsReader, type ValuesOf } from './setting.js';
import { DEFAULT_POOL_SIZE } from './store/database.js';
import { DEFAULT_DATABASE_URL, parseDatabaseUrl } from './store/location.js';

export { ConfigError } from './setting.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const SQLITE_SYNCHRONOUS = ['FULL', 'NORMAL'] as const;
const LOG_FORMATS = ['json', 'pretty'] as const;
const METRICS = ['key', 'open', 'off'] as const;

/**
 * Every setting Plugboard reads, in the README's order. A new one is one entry here: the Config
 * type, the checks at start and the README table follow from it.
 */
export const settings = {
  port: setting({
    variable: 'PORT',
    schema: Type.Integer({ minimum: 0, maximum: 65535 }),
    default: 8080,
    description: 'TCP port (`0` picks a free one; the log line `Server listening at …` names it)',
  }),
  host: setting({
    variable: 'HOST',
    schema: Type.String({ minLength: 1 }),
    default: '127.0.0.1',
    description: 'address to listen on; `0.0.0.0` in a container',
  }),
  database: setting({
    variable: 'DATABASE_URL',
    schema: Type.String(),
    default: DEFAULT_DATABASE_URL,
    parse: parseDatabaseUrl,
    description:
      '`sqlite:PATH` for a SQLite file (created with its folder on first start), `sqlite::memory:` for a ' +
      'throw-away database, or `postgres://USER:PASSWORD@HOST:5432/DATABASE` (also `postgresql://`) for ' +
      'PostgreSQL, which then needs `PLUGBOARD_MASTER_KEY` (see [PostgreSQL](#postgresql-and-several-instances))',
  }),
  databasePoolSize: setting({
    variable: 'DATABASE_POOL_SIZE',
    schema: Type.Integer({ minimum: 1, maximum: 1000 }),
    default: DEFAULT_POOL_SIZE,
    description: 'PostgreSQL: the most connections this process opens (1 to 1000)',
  }),
  logLevel: setting({
    variable: 'LOG_LEVEL',
    schema: oneOf(LOG_LEVELS),
    default: 'info',
    description: choices(LOG_LEVELS),
  }),
  logFormat: optional({
    variable: 'LOG_FORMAT',
    schema: oneOf(LOG_FORMATS),
    unset: 'unset (auto)',
    description:
      '`json` (one JSON object a line) or `pretty` (a readable line with the time, level, message and fields). ' +
      'Unset: `pretty` when standard output is a terminal, else `json` (see [Logs](#logs))',
  }),
  apiKey: optional({
    variable: 'PLUGBOARD_API_KEY',
    schema: Type.String({ minLength: MIN_KEY_LENGTH, pattern: '^[\\x21-\\x7E]*$' }),
    problem: (error, value) =>
      error.keyword === 'pattern'
        ? apiKeyCharacters(value)
        : `PLUGBOARD_API_KEY must be at least ${MIN_KEY_LENGTH} characters`,
    description:
      `when set (${MIN_KEY_LENGTH}+ visible ASCII characters: letters, digits, punctuation; no spaces or non-ASCII, which no ` +
      '`Authorization` header could carry), a write key with exactly this value exists in account `default`',
  }),
  createStatus: setting({
    variable: 'PLUGBOARD_CREATE_STATUS',
    schema: oneOf([200, 201]),
    default: 201,
    description:
      "status of a successful `POST /api/connectors`: `201` (what ilert's service answers, and all that ilert's Go " +
      "client and Terraform provider accept) or `200` (the published page's literal answer; see below)",
  }),
  sqliteSynchronous: setting({
    variable: 'PLUGBOARD_SQLITE_SYNCHRONOUS',
    schema: oneOf(SQLITE_SYNCHRONOUS),
    default: 'FULL',
    description: `SQLite's \`synchronous\` setting: ${choices(SQLITE_SYNCHRONOUS)} (see [Storage](#storage-and-durability))`,
  }),
  masterKey: optional({
    variable: 'PLUGBOARD_MASTER_KEY',
    schema: Type.String(),
    description:
      'the master key that seals secret params: 32 random bytes in base64. Unset: a key file beside the ' +
      'database (see [Secrets](#secrets))',
  }),
  previousMasterKeys: optional({
    variable: 'PLUGBOARD_PREVIOUS_MASTER_KEYS',
    schema: Type.String(),
    description: 'older master keys, comma-separated, still accepted for reading (during a rotation)',
  }),
  revealSecrets: setting({
    variable: 'PLUGBOARD_REVEAL_SECRETS',
    schema: oneOf(['write-keys', 'never']),
    default: 'write-keys',
    description:
      'who reads secret params back: `write-keys`, or `never` (secrets are write-only for everyone)',
  }),
  allowedTargets: optional({
    variable: 'PLUGBOARD_ALLOWED_TARGETS',
    schema: Type.String(),
    parse: (value): readonly string[] => {
      const entries = (value ?? '')
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '');
      parseAllowedTargets(entries);
      return entries;
    },
    description:
      'hosts, addresses and CIDRs, each optionally with a port, comma-separated, that credential checks may ' +
      'call although they are private, e.g. `jira.corp.local:8443,10.20.0.0/16,[fd00::1]:443` (see [Checks](#credential-checks))',
  }),
  deliveryQueueCap: setting({
    variable: 'PLUGBOARD_DELIVERY_QUEUE_CAP',
    schema: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
    default: 10_000,
    description:
      'deliveries an account may have waiting (queued, sending or retrying); one more is refused with 429 `QUEUE_FULL` (see [Deliveries](#deliveries))',
  }),
  deliveryConcurrency: setting({
    variable: 'PLUGBOARD_DELIVERY_CONCURRENCY',
    schema: Type.Integer({ minimum: 1, maximum: 256 }),
    default: 8,
    description:
      'deliveries of one connector sent at once by one server process: a slow or failing target holds only these',
  }),
  deliveryTimeout: setting({
    variable: 'PLUGBOARD_DELIVERY_TIMEOUT',
    schema: Type.Integer({ minimum: 1, maximum: 300 }),
    default: 10,
    description: 'seconds one delivery attempt may take, all its calls to the target together',
  }),
  deliveryThread: setting({
    variable: 'PLUGBOARD_DELIVERY_THREAD',
    schema: oneOf(['on', 'off']),
    default: 'on',
    description:
      "on SQLite, `on` sends deliveries from a thread of the server with its own connection, so that the API's event loop only accepts them; `off` sends them from the event loop",
  }),
  deliveryRetentionDays: setting({
    variable: 'PLUGBOARD_DELIVERY_RETENTION_DAYS',
    schema: Type.Integer({ minimum: 1, maximum: 3650 }),
    default: 7,
    description:
      'days a delivered, failed or cancelled delivery (with its attempts) is kept before it is deleted',
  }),
  rateLimit: optional({
    variable: 'PLUGBOARD_RATE_LIMIT',
    schema: Type.String(),
    parse: parseRateLimit,
    unset: 'unset (no limit)',
    description:
      "requests per API key: `<n>/s`, `<n>/min` or `<n>/h` (e.g. `300/min`), or `ilert` for ilert's " +
      'published limits, 120 a minute per key and 700 a minute per IP address (see [Bounded load](#bounded-load))',
  }),
  redisUrl: optional({
    variable: 'REDIS_URL',
    schema: Type.String({ pattern: '^rediss?://' }),
    problem: () => 'REDIS_URL must be a redis:// or rediss:// URL',
    description:
      "`redis://…` or `rediss://…`: keep the rate-limit counters in Redis, shared by every server that uses it; unset: in each server's memory. " +
      'Read only with `PLUGBOARD_RATE_LIMIT` (set without it, a warning at start says it is unused); Redis must answer at start',
  }),
  metrics: setting({
    variable: 'PLUGBOARD_METRICS',
    schema: oneOf(METRICS),
    default: 'key',
    description:
      '`GET /metrics` (Prometheus): `key` needs `Authorization: Bearer <key>` with a key of account `default`, ' +
      'read or write (the metrics count every account); `open` needs no key; `off` serves no `/metrics` (404). ' +
      'See [Metrics](#metrics)',
  }),
  postgresReadCache: setting({
    variable: 'PLUGBOARD_POSTGRES_READ_CACHE',
    schema: oneOf(['on', 'off']),
    default: 'on',
    description:
      'PostgreSQL only: `on` answers `GET /api/connectors/{id}` from the connectors this server read, dropped when ' +
      "PostgreSQL's notice of a change arrives (that notice comes well under a millisecond after the commit on an idle machine, milliseconds or more under load; " +
      'see [PostgreSQL and several instances](#postgresql-and-several-instances)); `off` reads the database on every request, so a write ' +
      'acknowledged by any server is seen by the next read on every other, at the cost of a round trip per read',
  }),
  console: setting({
    variable: 'PLUGBOARD_CONSOLE',
    schema: oneOf(['on', 'off']),
    default: 'on',
    description:
      'the web console at `/` and the API reference at `/docs` (see [Console](#console)): `on`, or `off` for an ' +
      'API-only deployment (`/` and `/docs` answer 404; `/api/openapi.json` stays)',
  }),
};

/** The settings as the code uses them, each parsed. */
export type Config = ValuesOf<typeof settings>;

export type RevealSecrets = Config['revealSecrets'];
export type MetricsAccess = Config['metrics'];
export type LogFormat = (typeof LOG_FORMATS)[number];

const readSettings = settingsReader(settings);

/** Reads and checks the environment. Throws ConfigError naming each bad variable; values are never repeated. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return readSettings(source);
}

/** The settings of an empty environment: every default. */
export function defaultConfig(): Config {
  return readSettings({});
}

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
