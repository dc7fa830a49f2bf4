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
  const events = await withDatabase(config, (db) =>
    createAuditStore(db.db).listByAccountName(values.account, limit),
  );
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
