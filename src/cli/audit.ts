import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { createAuditStore } from '../store/audit-store.js';
import { positiveInteger, table, UsageError, withDatabase } from './shared.js';

/** `plugboard audit [--account NAME] [--limit N]`: the trail of connector changes, newest first. */
export async function auditCommand(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { account: { type: 'string' }, limit: { type: 'string' } },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const limit = positiveInteger(values.limit, '--limit', 50, 10_000);
  const { account } = values;
  const found = await withDatabase(config, async (db) => {
    const events = await createAuditStore(db.db).listByAccountName(account, limit);
    // No events for an account name: say whether the account exists at all (a typo listed nothing).
    const known =
      events.length > 0 ||
      account === undefined ||
      (await db.db.selectFrom('accounts').select('id').where('name', '=', account).executeTakeFirst()) !==
        undefined;
    return { events, known };
  });
  if (!found.known) {
    process.stderr.write(
      `plugboard: no account named ${JSON.stringify(account)}; keys list shows the accounts\n`,
    );
    return 1;
  }
  const { events } = found;
  const header = ['AT', 'ACCOUNT', 'ACTION', 'CONNECTOR', 'NAME', 'TYPE', 'KEY', 'LABEL', 'FIELDS'];
  const rows = events.map((e) => [
    e.at,
    e.account,
    e.action,
    e.connectorId,
    e.connectorName,
    e.connectorType,
    e.keyId,
    e.keyLabel,
    e.fields.join(',') || '-',
  ]);
  process.stdout.write(events.length > 0 ? `${table(header, rows)}\n` : 'no audit events\n');
  return 0;
}
