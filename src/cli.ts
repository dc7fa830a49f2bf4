import { isMainThread, workerData } from 'node:worker_threads';
import { PlugboardConnectionError, PlugboardError } from '@plugboard/client';
import { MissingDatabaseError, UsageError, withDatabase } from './cli/shared.js';
import { ConfigError, loadConfig } from './config.js';
import { DELIVERY_THREAD_ROLE } from './deliveries/thread-host.js';
import { migrateToLatest } from './store/database.js';
import { VERSION } from './version.js';

const usage = `Usage: plugboard <command> [options]        (plugboard <command> --help for one command)

Server and database (on the machine the server runs on):
  serve                                   run the HTTP API
  migrate                                 create the database or apply pending migrations
  keys create --account NAME --role read|write [--label TEXT] [--expires 90d] [--new-account]
                                          create an API key; prints the key alone on the last line
  keys list [--account NAME]              list keys (never the keys themselves)
  keys revoke ID                          revoke a key; it stops working within seconds
  audit [--account NAME] [--limit N]      the audit trail of connector changes, newest first
  secrets rotate                          re-seal every secret under a new master key, while servers run
  copy --from URL --to URL [--batch-size N] [--force]
                                          copy a database into another (not idempotency keys)

Over HTTP, with PLUGBOARD_URL and PLUGBOARD_TOKEN (or plugboard login):
  login --url URL                         save the server and an API key (asked for, or from stdin) 0600
  connectors list|get|create|update|delete|check
                                          manage connectors; --json for scripts
  types                                   the connector types and their params
  deliveries list|get|retry               deliveries and their attempts; retry a failed one

  --version                               print the version

The server commands use DATABASE_URL (default sqlite:./data/plugboard.db) and the master key
settings (PLUGBOARD_MASTER_KEY, or the key file beside the database). Exit codes: 0 done,
1 failed (the API or the database said no), 2 bad usage.`;

const help: Record<string, string> = {
  serve: `Usage: plugboard serve

Runs the HTTP API; configure it with environment variables (README: Settings), e.g.
PORT=8080 HOST=127.0.0.1 DATABASE_URL=sqlite:./data/plugboard.db. Stops on SIGTERM or SIGINT.`,
  migrate: `Usage: plugboard migrate

Creates the database named by DATABASE_URL (default sqlite:./data/plugboard.db) if it does not
exist and applies pending migrations; servers also do this at start.`,
  keys: `Usage: plugboard keys create --account NAME --role read|write [--label TEXT] [--expires WHEN] [--new-account]
       plugboard keys list [--account NAME]
       plugboard keys revoke ID

create    makes an API key and prints it once, alone on the last line. --expires takes 90d, 12h,
          30m or a date (2027-01-31, 2027-01-31T12:00:00Z). An account that does not exist yet
          is created only with --new-account (so that a typo does not make a new, empty account).
list      every key (id, label, account, role, use, expiry), never the keys themselves.
revoke    stops a key within seconds.`,
  audit: `Usage: plugboard audit [--account NAME] [--limit N]

The audit trail of connector changes, newest first (default 50, at most 10000).`,
  secrets: `Usage: plugboard secrets rotate

Re-seals every secret under a new master key while servers run (README: Secrets).`,
  login: `Usage: plugboard login --url URL

Asks for an API key (or reads it from stdin), checks it against the server, and saves URL and
key in $XDG_CONFIG_HOME/plugboard/config.json (~/.config/plugboard/config.json), mode 0600.
PLUGBOARD_URL and PLUGBOARD_TOKEN, when set, win over the saved ones.`,
  connectors: `Usage: plugboard connectors list [--json]
       plugboard connectors get ID | --name NAME [--json]
       plugboard connectors create --type TYPE --name NAME [--param NAME=VALUE ...] [--json]
       plugboard connectors update ID (--name NAME | --param NAME=VALUE ...)... [--json]
       plugboard connectors delete ID [--if-match ETAG]
       plugboard connectors check ID [--json]

A --param value may be @FILE (read from the file) or - (read from stdin); a required secret
param that is not given is asked for without echo. update changes only what it is given and
writes with If-Match (it reads again if someone else wrote meanwhile). check exits 1 unless the
check says ok. Server and key: PLUGBOARD_URL and PLUGBOARD_TOKEN, or plugboard login.`,
  deliveries: `Usage: plugboard deliveries list [--connector ID] [--state STATE] [--limit N] [--json]
       plugboard deliveries get ID [--json]
       plugboard deliveries retry ID [--json]

list      the newest deliveries (default 50, at most 100); --state queued, sending, retrying,
          delivered, failed or cancelled.
get       one delivery with its attempts.
retry     queues a failed (or cancelled) delivery again.`,
  types: `Usage: plugboard types [--json]

Every connector type: its params (? marks optional ones; secrets are marked).`,
};

/** Which command's help to print for `plugboard <command> … --help`, if any. */
function helpFor(command: string, rest: readonly string[]): string | undefined {
  if (!rest.includes('--help') && !rest.includes('-h')) return undefined;
  return help[command];
}

/**
 * Runs one command; resolves with its exit code, or -1 for `serve`, which keeps running.
 * bin/plugboard.js calls it (the bundle, dist/plugboard.cjs, is this module and what it imports).
 */
export async function main(argv: string[]): Promise<number> {
  // `plugboard serve`'s deliveries thread (src/deliveries/thread-host.ts) runs this same bundle.
  if (!isMainThread && (workerData as { role?: unknown } | null)?.role === DELIVERY_THREAD_ROLE) {
    await (await import('./deliveries/thread.js')).runDeliveryThread();
    return -1;
  }
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' && rest[0] ? help[rest[0]] : undefined;
    process.stdout.write(`${topic ?? usage}\n`);
    return 0;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`plugboard ${VERSION}\n`);
    return 0;
  }
  const commandHelp = helpFor(command, rest);
  if (commandHelp !== undefined) {
    process.stdout.write(`${commandHelp}\n`);
    return 0;
  }
  try {
    // Each command's module is loaded when it runs (the bundle keeps it in a chunk of its own):
    // a server start does not parse the HTTP client, the prompts or the copy.
    switch (command) {
      case 'login':
        return await (await import('./cli/remote.js')).loginCommand(rest);
      case 'connectors':
        return await (await import('./cli/remote.js')).connectorsCommand(rest);
      case 'types':
        return await (await import('./cli/remote.js')).typesCommand(rest);
      case 'deliveries':
        return await (await import('./cli/remote.js')).deliveriesCommand(rest);
      default:
        break;
    }
    const config = loadConfig();
    switch (command) {
      case 'serve':
        if (rest.length > 0)
          throw new UsageError('serve takes no arguments; configure it with environment variables');
        // Loaded only here: the HTTP stack is not needed by the other commands.
        await (await import('./server.js')).serve(config);
        return -1; // keeps running until a signal
      case 'migrate': {
        if (rest.length > 0) throw new UsageError(`migrate takes no arguments (got ${rest[0]})`);
        const { applied } = await withDatabase(config, migrateToLatest, { migrate: false, create: true });
        process.stdout.write(
          applied.length > 0
            ? `Applied ${applied.length} migration(s): ${applied.join(', ')}\n`
            : 'The database is up to date.\n',
        );
        return 0;
      }
      case 'keys':
        return await (await import('./cli/keys.js')).keysCommand(config, rest);
      case 'audit':
        return await (await import('./cli/audit.js')).auditCommand(config, rest);
      case 'secrets':
        return await (await import('./cli/secrets.js')).secretsCommand(config, rest);
      case 'copy':
        return await (await import('./cli/copy.js')).copyCommand(config, rest);
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (error) {
    return report(command, error);
  }
}

/** One line (and field errors) on stderr, a hint, and the exit code. */
function report(command: string, error: unknown): number {
  const parseArgsError =
    error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS');
  if (error instanceof UsageError || parseArgsError) {
    const hint = help[command] ? `plugboard ${command} --help` : 'plugboard --help';
    const message = error.message.split('\n')[0]?.replace(/\. To specify.*$/, '');
    process.stderr.write(`plugboard: ${message}\n(usage: ${hint})\n`);
    return 2;
  }
  if (error instanceof PlugboardError) {
    const fields = error.errors.map((e) => `  ${e.field || '(body)'}: ${e.message}\n`).join('');
    process.stderr.write(`plugboard: ${error.message} (HTTP ${error.status} ${error.code})\n${fields}`);
    return 1;
  }
  if (error instanceof PlugboardConnectionError) {
    process.stderr.write(`plugboard: ${error.message}\n(is the server running? PLUGBOARD_URL names it)\n`);
    return 1;
  }
  if (error instanceof ConfigError || error instanceof MissingDatabaseError) {
    process.stderr.write(`plugboard: ${error.message}\n`);
    return 1;
  }
  process.stderr.write(
    `plugboard: ${command} failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  return 1;
}
