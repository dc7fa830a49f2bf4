import type { Config } from '../config.js';
import { rotateSecrets } from '../secrets/rotate.js';
import { openKeyring } from '../secrets/setup.js';
import { UsageError, withDatabase } from './shared.js';

/** `plugboard secrets rotate`: progress on stderr, the result on stdout. */
export async function secretsCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'rotate') throw new UsageError(`unknown secrets command: ${action ?? '(none)'}; use rotate`);
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
  const tty = process.stderr.isTTY === true;
  let description = '';
  const report = await withDatabase(config, async (db) => {
    const { source } = await openKeyring(config, db.db);
    description = source.description;
    return rotateSecrets(db.db, source, {
      onProgress: ({ done, total }) => {
        const line = `re-sealed ${done} of ${total} connectors`;
        process.stderr.write(tty ? `\r${line}` : `${line}\n`);
      },
    });
  });
  if (tty) process.stderr.write('\n');
  if (report.newKey)
    process.stdout.write(`Made master key ${report.keyId} the primary key in ${description}.\n`);
  process.stdout.write(
    `Re-sealed ${report.resealed} connector(s); verified that all ${report.verified} connector(s) with secrets open under key ${report.keyId}.\n`,
  );
  return 0;
}
