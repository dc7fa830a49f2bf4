import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig } from './config.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './store/database.js';
import { createKeyStore, type KeyListing } from './store/key-store.js';
import type { KeyRole } from './store/schema.js';

const usage = `Usage: plugboard <command> [options]

Commands:
  serve                                   run the HTTP API (the default)
  migrate                                 apply pending database migrations
  keys create --account NAME --role read|write [--label TEXT]
                                          create an API key; prints the key alone on the last line
  keys list [--account NAME]              list keys (never the keys themselves)
  keys revoke ID                          revoke a key; it stops working within seconds

Every command uses DATABASE_URL (default sqlite:./data/plugboard.db).`;

class UsageError extends Error {}

const accountPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

async function withDatabase<T>(
  config: Config,
  work: (database: DatabaseHandle) => Promise<T>,
  { migrate = true } = {},
): Promise<T> {
  const database = openDatabase(config.database, { synchronous: config.sqliteSynchronous });
  try {
    if (migrate) await migrateToLatest(database);
    return await work(database);
  } finally {
    await database.close();
  }
}

function table(rows: KeyListing[]): string {
  const header = ['ID', 'LABEL', 'ACCOUNT', 'ROLE', 'CREATED', 'LAST USED', 'REVOKED'];
  const cells = rows.map((row) => [
    row.id,
    row.label,
    row.account,
    row.role,
    row.createdAt,
    row.lastUsedAt ?? '-',
    row.revokedAt ?? '-',
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((cell) => (cell[i] ?? '').length)),
  );
  return [header, ...cells]
    .map((cells) =>
      cells
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function keysCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { account: { type: 'string' }, role: { type: 'string' }, label: { type: 'string' } },
  });
  switch (action) {
    case 'create': {
      const { account, role, label } = values;
      if (!account || !accountPattern.test(account)) {
        throw new UsageError(
          'keys create needs --account NAME (letters, digits, . _ -; at most 100 characters)',
        );
      }
      if (role !== 'read' && role !== 'write')
        throw new UsageError('keys create needs --role read or --role write');
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const keyRole: KeyRole = role;
      const created = await withDatabase(config, (db) =>
        createKeyStore(db.db).create(account, keyRole, label ?? ''),
      );
      process.stdout.write(
        `Created ${keyRole} key ${created.id} in account ${account}. It is shown only this once:\n`,
      );
      process.stdout.write(`${created.secret}\n`);
      return 0;
    }
    case 'list': {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const rows = await withDatabase(config, (db) => createKeyStore(db.db).list(values.account));
      process.stdout.write(rows.length > 0 ? `${table(rows)}\n` : 'no keys\n');
      return 0;
    }
    case 'revoke': {
      const [id, ...extra] = positionals;
      if (!id || extra.length > 0)
        throw new UsageError('keys revoke needs exactly one key ID (see keys list)');
      const outcome = await withDatabase(config, (db) => createKeyStore(db.db).revoke(id));
      if (outcome === 'unknown') {
        process.stderr.write(`plugboard: no key with id ${id}; keys list shows the ids\n`);
        return 1;
      }
      process.stdout.write(
        outcome === 'revoked' ? `Revoked key ${id}.\n` : `Key ${id} was already revoked.\n`,
      );
      return 0;
    }
    default:
      throw new UsageError(`unknown keys command: ${action ?? '(none)'}; use create, list or revoke`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  try {
    const config = loadConfig();
    switch (command) {
      case 'serve':
        if (rest.length > 0)
          throw new UsageError('serve takes no arguments; configure it with environment variables');
        // Loaded only here: the HTTP stack is not needed by the other commands.
        await (await import('./server.js')).serve(config);
        return -1; // keeps running until a signal
      case 'migrate': {
        const { applied } = await withDatabase(config, migrateToLatest, { migrate: false });
        process.stdout.write(
          applied.length > 0
            ? `Applied ${applied.length} migration(s): ${applied.join(', ')}\n`
            : 'The database is up to date.\n',
        );
        return 0;
      }
      case 'keys':
        return await keysCommand(config, rest);
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`plugboard: ${error.message}\n\n${usage}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`plugboard: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(
      `plugboard: ${command} failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
