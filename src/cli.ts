import { auditCommand } from './cli/audit.js';
import { copyCommand } from './cli/copy.js';
import { keysCommand } from './cli/keys.js';
import { secretsCommand } from './cli/secrets.js';
import { UsageError, withDatabase } from './cli/shared.js';
import { ConfigError, loadConfig } from './config.js';
import { migrateToLatest } from './store/database.js';

const usage = `Usage: plugboard <command> [options]

Commands:
  serve                                   run the HTTP API (the default)
  migrate                                 apply pending database migrations
  keys create --account NAME --role read|write [--label TEXT] [--expires 90d]
                                          create an API key; prints the key alone on the last line
                                          (--expires: a duration in d, h or m, or an ISO date)
  keys list [--account NAME]              list keys (never the keys themselves)
  keys revoke ID                          revoke a key; it stops working within seconds
  audit [--account NAME] [--limit N]      the audit trail of connector changes, newest first
  secrets rotate                          re-seal every secret under a new master key, while servers run
  copy --from URL --to URL [--batch-size N]
                                          copy accounts, keys, connectors and the audit trail into
                                          another database (not idempotency keys); copy --help

Every command uses DATABASE_URL (default sqlite:./data/plugboard.db) and the master key
settings (PLUGBOARD_MASTER_KEY, or the key file beside the database).`;

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
      case 'audit':
        return await auditCommand(config, rest);
      case 'secrets':
        return await secretsCommand(config, rest);
      case 'copy':
        return await copyCommand(config, rest);
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (error) {
    const parseArgsError =
      error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS');
    if (error instanceof UsageError || parseArgsError) {
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
