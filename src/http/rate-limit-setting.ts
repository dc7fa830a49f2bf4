/** One budget: at most `max` requests per window. */
export interface RateLimitRule {
  readonly max: number;
  readonly windowMs: number;
  /** The window in words, for messages: `second`, `minute`, `hour`. */
  readonly per: 'second' | 'minute' | 'hour';
}

/** What PLUGBOARD_RATE_LIMIT asks for. */
export interface RateLimitSetting {
  /** Every API key's budget; requests without a key are counted by client IP against the same budget. */
  readonly perKey: RateLimitRule;
  /** A budget per client IP for all its requests together, keys or not (the ilert preset). */
  readonly perIp?: RateLimitRule;
  /** The value as configured, for logs: `300/min`, `ilert`. */
  readonly description: string;
}

const windows = {
  s: { windowMs: 1_000, per: 'second' },
  min: { windowMs: 60_000, per: 'minute' },
  h: { windowMs: 3_600_000, per: 'hour' },
} as const;

/** ilert's published limits: 120 requests a minute per API key and 700 a minute per IP address. */
export const ILERT_RATE_LIMIT: RateLimitSetting = {
  perKey: { max: 120, ...windows.min },
  perIp: { max: 700, ...windows.min },
  description: 'ilert',
};

export const RATE_LIMIT_FORMS = '`<n>/s`, `<n>/min`, `<n>/h` (e.g. `300/min`) or `ilert`';

/**
 * Parses PLUGBOARD_RATE_LIMIT: `300/min` (also `/s`, `/h`) or the preset `ilert`.
 * Unset or empty: no limit. Throws an Error whose message names the variable and the accepted forms.
 */
export function parseRateLimit(value: string | undefined): RateLimitSetting | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (text.toLowerCase() === 'ilert') return ILERT_RATE_LIMIT;
  const match = /^([1-9][0-9]{0,8}) *\/ *(s|min|h)$/.exec(text);
  if (!match?.[1] || !match[2]) {
    throw new Error(
      `PLUGBOARD_RATE_LIMIT must be ${RATE_LIMIT_FORMS}, with <n> a whole number from 1 to 999999999 (got "${text}")`,
    );
  }
  const window = windows[match[2] as keyof typeof windows];
  return { perKey: { max: Number(match[1]), ...window }, description: `${match[1]}/${match[2]}` };
}

/** The warning for REDIS_URL set without PLUGBOARD_RATE_LIMIT. */
export const REDIS_URL_UNUSED =
  'REDIS_URL is set but unused: it only holds rate-limit counters, and rate limits are off because PLUGBOARD_RATE_LIMIT is unset; set PLUGBOARD_RATE_LIMIT (e.g. 300/min or ilert) or unset REDIS_URL';

/** Logs REDIS_URL_UNUSED at start when REDIS_URL is set but rate limits are off. */
export function warnIfRedisUrlUnused(
  config: { readonly rateLimit: RateLimitSetting | undefined; readonly redisUrl: string | undefined },
  log: { warn(message: string): void },
): void {
  if (config.redisUrl && !config.rateLimit) log.warn(REDIS_URL_UNUSED);
}
