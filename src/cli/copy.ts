import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { MasterKeyError } from '../secrets/cipher.js';
import type { KeyringSource } from '../secrets/keyring.js';
import { resolveKeyring } from '../secrets/keyring.js';
import { prepareCopy } from '../store/copy/plan.js';
import { copyDatabase } from '../store/copy/run.js';
import type { CopyProgress, CopyReport } from '../store/copy/types.js';
import { type DatabaseHandle, openDatabase } from '../store/database.js';
import { type DatabaseLocation, describeLocation, parseDatabaseUrl } from '../store/location.js';
import { keyIdsInUse } from '../store/sealed/rows.js';
import { positiveInteger, table, UsageError } from './shared.js';

const help = `Usage: plugboard copy --from URL --to URL [--batch-size N] [--force]

Copies one Plugboard database into another, e.g. from SQLite to PostgreSQL:

  plugboard copy --from sqlite:./data/plugboard.db --to postgres://plugboard@db.example.com:5432/plugboard

Copied exactly (every column, the same ids): accounts, API keys (their hashes), connectors (secrets
stay sealed as they are, under the same master keys) and the audit trail. Not copied: idempotency
keys, which only matter for 24 hours.

Both databases are migrated first. The target must be empty, or hold an interrupted copy of the same
source: run the command again and it carries on. A row copied earlier that now differs from the
source (a server used the target since, or kept running on the source) is not set back to the
source's state: the copy is refused, naming the rows and columns that would change; with --force
they are refreshed from the source.
The copy is a snapshot of the source as of its start: stop the servers that write to the source
first, or their later writes are not in it. It ends by comparing every row of both databases and
opening every copied secret with the source's master keys (PLUGBOARD_MASTER_KEY and
PLUGBOARD_PREVIOUS_MASTER_KEYS, or the key file beside a SQLite source).

Options:
  --from URL         the database to copy (sqlite:PATH or postgres://…)
  --to URL           the database to copy into
  --batch-size N     rows per batch, each one transaction in the target (default 1000)
  --force            refresh rows copied earlier that differ from the source now (see above)
`;

/** Reads --from or --to; the messages of parseDatabaseUrl name DATABASE_URL, here the option is meant. */
function locationOf(option: '--from' | '--to', value: string): DatabaseLocation {
  let location: DatabaseLocation;
  try {
    location = parseDatabaseUrl(value);
  } catch (error) {
    throw new UsageError(
      (error instanceof Error ? error.message : String(error)).replaceAll('DATABASE_URL', option),
    );
  }
  if (location.kind === 'sqlite' && location.path === ':memory:') {
    throw new UsageError(
      `${option} sqlite::memory: is a throw-away database that only this command would see; name a file`,
    );
  }
  return location;
}

/** Quoted for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The source's master keys, to check them before copying and to open every copied secret with
 * them afterwards. Needed only when the source holds secrets; never creates a key file.
 */
function sourceKeyring(
  config: Config,
  from: DatabaseLocation,
  inUse: readonly string[],
): KeyringSource | undefined {
  try {
    return resolveKeyring({ ...config, database: from }, { createFile: false }).source;
  } catch (error) {
    if (!(error instanceof MasterKeyError) || inUse.length === 0) return undefined;
    throw new MasterKeyError(
      `the source holds secrets sealed with master key ${inUse.join(', ')}, and the copy proves that they still open; ${error.message}`,
    );
  }
}

/** A progress line per table: redrawn in place on a terminal, else one line every 10% or so. */
function progressPrinter(stream: NodeJS.WriteStream) {
  const tty = stream.isTTY === true;
  let current = '';
  let startedAt = 0;
  let startedDone = 0;
  let lastTenth = -1;
  let open = false;
  const labels = { check: 'checking', copy: 'copying', verify: 'verifying' } as const;
  return {
    update({ phase, table: name, done, total }: CopyProgress) {
      const id = `${phase} ${name}`;
      if (id !== current) {
        if (open) stream.write('\n');
        open = false;
        current = id;
        startedAt = Date.now();
        startedDone = done;
        lastTenth = -1;
      }
      const percent = total === 0 ? 100 : Math.min(100, Math.floor((done * 100) / total));
      const seconds = (Date.now() - startedAt) / 1000;
      const rate = seconds > 0 ? Math.round((done - startedDone) / seconds) : 0;
      const label = `${labels[phase]} ${name}`.padEnd(22);
      const counts = `${done}/${total}`;
      if (tty) {
        const width = 24;
        const filled = Math.round((percent / 100) * width);
        const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
        const speed = rate > 0 ? `  ${rate} rows/s` : '';
        stream.write(`\r${label} ${bar} ${counts} ${String(percent).padStart(3)}%${speed}\x1b[K`);
        open = true;
        return;
      }
      const tenth = Math.floor(percent / 10);
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      stream.write(`${label} ${counts} (${percent}%)${rate > 0 ? `, ${rate} rows/s` : ''}\n`);
    },
    end() {
      if (open) stream.write('\n');
      open = false;
    },
  };
}

/** The verification table; per-account rows only when they are few, or when they differ. */
function verificationTable(report: CopyReport): string {
  const accounts = new Set(report.counts.flatMap((c) => (c.account ? [c.account.id] : []))).size;
  const identical = new Map(report.tables.map((t) => [t.table, t.identical]));
  const rows = report.counts
    .filter((c) => !c.account || accounts <= 20 || c.source !== c.target)
    .map((c) => [
      c.table,
      c.account ? `${c.account.name} (${c.account.id})` : '(all)',
      String(c.source),
      String(c.target),
      c.account ? '' : String(identical.get(c.table) ?? 0),
      c.source === c.target && (c.account || identical.get(c.table) === c.source) ? 'ok' : 'DIFFERS',
    ]);
  const text = table(['TABLE', 'ACCOUNT', 'SOURCE', 'TARGET', 'IDENTICAL', 'RESULT'], rows);
  return accounts > 20
    ? `${text}\n(per account: ${accounts} accounts; only differing ones are listed)`
    : text;
}

/** Where the target's servers get the master keys from: said plainly, never printing a key. */
function masterKeyAdvice(
  target: DatabaseLocation,
  keyring: KeyringSource | undefined,
  inUse: readonly string[],
): string[] {
  if (!keyring) {
    return target.kind === 'postgres'
      ? [
          'The source holds no sealed secrets. Start every PostgreSQL instance with the same PLUGBOARD_MASTER_KEY',
          '(32 random bytes in base64, e.g. from: openssl rand -base64 32).',
        ]
      : [];
  }
  const keys = keyring.current().keys;
  const older = keys.length > 1;
  const sealedWith = inUse.length > 0 ? ` The secrets are sealed with master key ${inUse.join(', ')}.` : '';
  if (keyring.file === undefined) {
    return [
      `Start the target's servers with the same PLUGBOARD_MASTER_KEY${older ? ' and PLUGBOARD_PREVIOUS_MASTER_KEYS' : ''} that this command used.${sealedWith}`,
    ];
  }
  const file = shellQuote(keyring.file);
  const keysOf = `sed -e '/^#/d' -e '/^[[:space:]]*$/d' ${file}`;
  if (target.kind === 'sqlite') {
    return [
      `The source's master keys are in the key file ${keyring.file}.${sealedWith}`,
      `Copy it beside the target, as ${target.path}.key (mode 0600), or start the target's servers with PLUGBOARD_MASTER_KEY set to its first key.`,
    ];
  }
  return [
    `IMPORTANT: the source's master keys are in the key file ${keyring.file}; PostgreSQL has no key file.${sealedWith}`,
    'Every PostgreSQL instance must be started with PLUGBOARD_MASTER_KEY set to the first key in that file' +
      (older ? ',\nand PLUGBOARD_PREVIOUS_MASTER_KEYS set to the other keys in it, comma-separated:' : ':'),
    `  export PLUGBOARD_MASTER_KEY="$(${keysOf} | head -n 1)"`,
    ...(older ? [`  export PLUGBOARD_PREVIOUS_MASTER_KEYS="$(${keysOf} | tail -n +2 | paste -sd, -)"`] : []),
    'Without them the copied secrets cannot be read. Keep the key file as a backup of the keys.',
  ];
}

/** `plugboard copy --from URL --to URL [--batch-size N] [--force]`: progress on stderr, the result on stdout. */
export async function copyCommand(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      'batch-size': { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  if (values.from === undefined || values.to === undefined) {
    throw new UsageError(
      'copy needs --from URL and --to URL, e.g. --from sqlite:./data/plugboard.db --to postgres://plugboard@db:5432/plugboard',
    );
  }
  const from = locationOf('--from', values.from);
  const to = locationOf('--to', values.to);
  const batchSize = positiveInteger(values['batch-size'], '--batch-size', 1000, 100_000);
  if (from.kind === 'sqlite' && !existsSync(from.path)) {
    process.stderr.write(`plugboard: copy: the source ${describeLocation(from)} does not exist\n`);
    return 1;
  }

  const options = { synchronous: config.sqliteSynchronous, poolSize: 2 };
  const handles: DatabaseHandle[] = [];
  const progress = progressPrinter(process.stderr);
  try {
    const source = openDatabase(from, options);
    handles.push(source);
    const target = openDatabase(to, options);
    handles.push(target);
    const migrated = await prepareCopy(source, target);
    const inUse = await keyIdsInUse(source.db);
    const keyring = sourceKeyring(config, from, inUse);
    const report = await copyDatabase(source, target, {
      batchSize,
      force: values.force ?? false,
      onProgress: (p) => progress.update(p),
      ...(keyring && inUse.length > 0 ? { keyring } : {}),
    });
    progress.end();

    const out: string[] = [];
    out.push(
      `Copied ${describeLocation(from)} to ${describeLocation(to)} in ${(report.elapsedMs / 1000).toFixed(1)} s.`,
    );
    for (const [which, applied] of [
      ['source', migrated.source],
      ['target', migrated.target],
    ] as const) {
      if (applied.length > 0) out.push(`Migrated the ${which} first: ${applied.join(', ')}.`);
    }
    out.push('');
    out.push(
      table(
        ['TABLE', 'ROWS', 'COPIED NOW', 'ALREADY THERE', 'REFRESHED'],
        report.tables.map((t) => [
          t.table,
          String(t.sourceRows),
          String(t.copied),
          String(t.alreadyThere),
          String(t.refreshed),
        ]),
      ),
    );
    out.push('', 'Verification, source against target:', verificationTable(report), '');
    if (report.secrets) {
      const failed = report.secrets.failedCount;
      out.push(
        failed === 0
          ? `Secrets: all ${report.secrets.opened} connector(s) with secrets open from the target under ${keyring?.description}.`
          : `Secrets: ${report.secrets.opened} open, ${failed} do not (${report.secrets.failed.join(', ')}).`,
      );
    } else {
      out.push('Secrets: the source holds none.');
    }
    out.push('Not copied: idempotency keys (they only matter for 24 hours).');
    if (report.sequencesReset.length > 0) {
      out.push(`Sequences ${report.sequencesReset.join(', ')} continue after the copied rows.`);
    }
    if (report.problems.length === 0) {
      const advice = masterKeyAdvice(to, keyring, inUse);
      if (advice.length > 0) out.push('', ...advice);
    }
    process.stdout.write(`${out.join('\n')}\n`);

    if (report.problems.length > 0) {
      process.stderr.write(
        `plugboard: copy: the target does not match the source: ${report.problems.join('; ')}\n` +
          'If servers wrote to the target during the copy, stop them; empty the target and copy again.\n',
      );
      return 1;
    }
    return 0;
  } finally {
    progress.end();
    for (const handle of handles.reverse()) await handle.close();
  }
}
