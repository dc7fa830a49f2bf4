import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../store/database.js';

/** A mistake in the command line: one line and where the usage is, exit code 2. */
export class UsageError extends Error {}

/** An admin command pointed at a SQLite file that does not exist: it would make a new, empty one. */
export class MissingDatabaseError extends Error {}

export async function withDatabase<T>(
  config: Config,
  work: (database: DatabaseHandle) => Promise<T>,
  { migrate = true, create = false } = {},
): Promise<T> {
  const { database: location } = config;
  if (!create && location.kind === 'sqlite' && location.path !== ':memory:' && !existsSync(location.path)) {
    const from = process.env.DATABASE_URL === undefined ? 'the default DATABASE_URL' : 'DATABASE_URL';
    throw new MissingDatabaseError(
      `there is no database at ${resolve(location.path)} (${from}, sqlite:${location.path}); run this in the ` +
        "folder the server runs in, set DATABASE_URL to the server's, or make a new one with plugboard migrate",
    );
  }
  const database = openDatabase(config.database, {
    synchronous: config.sqliteSynchronous,
    poolSize: config.databasePoolSize,
  });
  try {
    if (migrate) await migrateToLatest(database);
    return await work(database);
  } finally {
    await database.close();
  }
}

/**
 * Characters that are not shown as themselves, escaped as `\u{…}`: cells hold what tenants typed
 * (connector names, key labels), and raw they could clear or recolour the operator's terminal,
 * forge extra lines or reorder what a line seems to say. By Unicode category, not a hand list:
 * controls (Cc), format characters (Cf: bidirectional marks and isolates U+061C, U+200E/F,
 * U+202A-U+202E, U+2066-U+2069, zero-width U+200B-U+200D, U+FEFF, tag characters…), the line and
 * paragraph separators (Zl U+2028, Zp U+2029) and lone surrogates (Cs).
 */
const NOT_PRINTED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

export function printable(text: string): string {
  return text.replace(NOT_PRINTED, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

/** Left-aligned columns, two spaces apart; cells made printable. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [header, ...rows].map((row) => row.map(printable));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const units: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

const EXPIRES_USAGE =
  '--expires takes a duration such as 90d, 12h or 30m, or a date or time such as 2027-01-31 or 2027-01-31T12:00:00Z';

/** `2027-01-31`, or `2027-01-31T12:00`, `…:00`, `…:00.000`, with `Z` or `+02:00`; only real calendar dates. */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,3})?)?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/;

function parseDate(value: string): number {
  const parts = DATE_TIME.exec(value);
  if (!parts) return Number.NaN;
  const [, year, month, day] = parts;
  const midnight = new Date(`${year}-${month}-${day}T00:00:00Z`);
  // Date.parse turns 2027-02-30 into March 2: only a date that reads back the same is one.
  if (Number.isNaN(midnight.getTime()) || midnight.toISOString().slice(0, 10) !== `${year}-${month}-${day}`) {
    return Number.NaN;
  }
  return Date.parse(parts[4] === undefined ? `${value}T00:00:00Z` : value);
}

/** `90d`, `12h`, `30m`, or an ISO 8601 date (midnight UTC) or time in the future; the expiry as an ISO timestamp. */
export function parseExpiry(value: string, now: number): string {
  if (/^\d+$/.test(value)) {
    throw new UsageError(
      `--expires needs a unit: ${value}d (days), ${value}h (hours) or ${value}m (minutes)`,
    );
  }
  const relative = /^(\d{1,6})([mhd])$/.exec(value);
  const unit = relative?.[2] === undefined ? undefined : units[relative[2]];
  const at = relative && unit !== undefined ? now + Number(relative[1]) * unit : parseDate(value);
  if (Number.isNaN(at)) throw new UsageError(EXPIRES_USAGE);
  if (at <= now) throw new UsageError('--expires must be in the future');
  return new Date(at).toISOString();
}

export function positiveInteger(
  value: string | undefined,
  name: string,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new UsageError(`${name} must be an integer from 1 to ${max}`);
  }
  return Number(value);
}

/** A connector's ID (src/store/ids.ts): 22 base64url characters, `-` among them. */
const ID_SHAPE = /^[A-Za-z0-9_-]{22}$/;

/**
 * parseArgs for commands that take IDs. One in 64 connector IDs made before they began with the
 * time (ids.ts) starts with `-`, which parseArgs would read as short options (`connectors get
 * -rK…` failed with "Unknown option '-r'"): an argument of an ID's shape is taken as it is,
 * wherever it stands, as a positional or an option's value.
 */
export function parseIdArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const held = new Map<string, string>();
  const args = (config.args ?? []).map((arg) => {
    if (!arg.startsWith('-') || !ID_SHAPE.test(arg)) return arg;
    const stand = `\u0000id${held.size}`;
    held.set(stand, arg);
    return stand;
  });
  const parsed = parseArgs<T>({ ...config, args });
  const back = (value: unknown): unknown =>
    typeof value === 'string' ? (held.get(value) ?? value) : Array.isArray(value) ? value.map(back) : value;
  const values = Object.fromEntries(
    Object.entries(parsed.values).map(([name, value]) => [name, back(value)]),
  );
  return {
    ...parsed,
    values: values as typeof parsed.values,
    positionals: parsed.positionals.map((positional) => held.get(positional) ?? positional),
  } as ReturnType<typeof parseArgs<T>>;
}
