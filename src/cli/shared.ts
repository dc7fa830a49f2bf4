import type { Config } from '../config.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../store/database.js';

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export async function withDatabase<T>(
  config: Config,
  work: (database: DatabaseHandle) => Promise<T>,
  { migrate = true } = {},
): Promise<T> {
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

/** Left-aligned columns, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const units: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90d`, `12h`, `30m`, or an ISO 8601 date in the future; the expiry as an ISO timestamp. */
export function parseExpiry(value: string, now: number): string {
  const relative = /^(\d{1,6})([mhd])$/.exec(value);
  const unit = relative?.[2] === undefined ? undefined : units[relative[2]];
  const at = relative && unit !== undefined ? now + Number(relative[1]) * unit : Date.parse(value);
  if (Number.isNaN(at) || !/^\d|^\d{4}-/.test(value)) {
    throw new UsageError('--expires takes a duration such as 90d, 12h or 30m, or a date such as 2027-01-31');
  }
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
