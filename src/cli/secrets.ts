import type { Config } from '../config.js';
import { openKeyring } from '../store/sealed/keyring-check.js';
import { type RotationReport, rotateSecrets } from '../store/sealed/rotate.js';
import { UsageError, withDatabase } from './shared.js';

/** What `rotate` did, for stdout: never a key, only key ids. */
function describeRotation(report: RotationReport, source: { description: string; file?: string }): string[] {
  const lines: string[] = [];
  if (report.newKey) lines.push(`Made master key ${report.keyId} the primary key in ${source.description}.`);
  lines.push(
    `Re-sealed ${report.resealed} connector(s) and ${report.resealedRecords} idempotency record(s); ` +
      `verified that all ${report.verified} connector(s) with secrets and all ${report.verifiedRecords} ` +
      `idempotency record(s) open under key ${report.keyId}.`,
  );
  if (report.resealedHashKey) {
    lines.push(
      `Re-sealed the hash key of the API keys under key ${report.keyId} (the key is the same: every API key keeps working).`,
    );
  }
  if (report.forgottenRecords > 0) {
    lines.push(
      `Deleted ${report.forgottenRecords} idempotency record(s) that had expired or that no configured key opens.`,
    );
  }
  const retired = report.retiredKeyIds.join(', ');
  if (report.retiredKeyIds.length === 0) return lines;
  if (source.file !== undefined) {
    lines.push(
      `Removed the retired master key(s) ${retired} from ${source.description}: nothing is sealed with them any more. ` +
        'A backup of the database made before this rotation needs a backup of the key file made with it.',
    );
  } else {
    lines.push(
      `Nothing is sealed with master key(s) ${retired} any more: remove them from PLUGBOARD_PREVIOUS_MASTER_KEYS ` +
        `(servers must run with key ${report.keyId} as PLUGBOARD_MASTER_KEY).`,
    );
  }
  return lines;
}

/** `plugboard secrets rotate`: progress on stderr, the result on stdout. */
export async function secretsCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'rotate') throw new UsageError(`unknown secrets command: ${action ?? '(none)'}; use rotate`);
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
  const tty = process.stderr.isTTY === true;
  const { report, source } = await withDatabase(config, async (db) => {
    const { source } = await openKeyring(config, db.db);
    let shown = '';
    const report = await rotateSecrets(db.db, source, {
      onProgress: ({ kind, done, total }) => {
        const line = `re-sealed ${done} of ${total} ${kind}`;
        if (tty && shown !== '' && !shown.endsWith(kind)) process.stderr.write('\n');
        process.stderr.write(tty ? `\r${line}` : `${line}\n`);
        shown = line;
      },
    });
    return { report, source };
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(`${describeRotation(report, source).join('\n')}\n`);
  return 0;
}
