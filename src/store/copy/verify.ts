import type { Kysely } from 'kysely';
import { createSecretBox } from '../../secrets/secret-box.js';
import type { Database } from '../schema.js';
import { countByAccount, countRows, differingColumns, keyValue, pairedBatches } from './rows.js';
import {
  type CopyOptions,
  type CountCheck,
  MAX_LISTED,
  type SecretsCheck,
  TABLES,
  type TableReport,
  type TableSpec,
} from './types.js';

/** Source rows compared with the target's, column by column; target connectors' secrets opened with the source's keys. */
async function compareTable(
  source: Kysely<Database>,
  target: Kysely<Database>,
  spec: TableSpec,
  total: number,
  options: Pick<CopyOptions, 'keyring' | 'onProgress'> & { batchSize: number },
  problems: string[],
  secrets: { opened: number; failed: string[]; failedCount: number },
): Promise<number> {
  const box = options.keyring && spec.table === 'connectors' ? createSecretBox(options.keyring) : undefined;
  let identical = 0;
  let missing = 0;
  let differing = 0;
  const examples: string[] = [];
  let done = 0;
  for await (const { rows, counterpart } of pairedBatches(source, target, spec, options.batchSize)) {
    for (const row of rows) {
      const key = keyValue(row, spec);
      const copy = counterpart(row);
      if (!copy) {
        missing++;
        if (examples.length < MAX_LISTED) examples.push(`${spec.key} ${key} missing`);
        continue;
      }
      const columns = differingColumns(row, copy);
      if (columns.length > 0) {
        differing++;
        if (examples.length < MAX_LISTED) examples.push(`${spec.key} ${key}: ${columns.join(', ')}`);
        continue;
      }
      identical++;
      if (box && typeof copy.secrets === 'string' && typeof copy.secret_key_id === 'string') {
        const id = String(copy.id);
        try {
          box.open(id, String(copy.type), { sealed: copy.secrets, keyId: copy.secret_key_id });
          secrets.opened++;
        } catch {
          secrets.failedCount++;
          if (secrets.failed.length < MAX_LISTED) secrets.failed.push(id);
        }
      }
    }
    done += rows.length;
    options.onProgress?.({ phase: 'verify', table: spec.table, done, total, copied: 0 });
  }
  if (missing + differing > 0) {
    problems.push(
      `${spec.table}: ${missing} source row(s) missing from the target, ${differing} differing (${examples.join('; ')})`,
    );
  }
  return identical;
}

async function accountNames(db: Kysely<Database>): Promise<Map<number, string>> {
  const rows = await db.selectFrom('accounts').select(['id', 'name']).execute();
  return new Map(rows.map((row) => [Number(row.id), row.name]));
}

/** Per table and, for the tables that belong to accounts, per account: source count against target count. */
async function countChecks(source: Kysely<Database>, target: Kysely<Database>): Promise<CountCheck[]> {
  const names = new Map([...(await accountNames(target)), ...(await accountNames(source))]);
  const checks: CountCheck[] = [];
  for (const spec of TABLES) {
    checks.push({
      table: spec.table,
      source: await countRows(source, spec),
      target: await countRows(target, spec),
    });
    if (!spec.perAccount) continue;
    const [inSource, inTarget] = [await countByAccount(source, spec), await countByAccount(target, spec)];
    const ids = [...new Set([...inSource.keys(), ...inTarget.keys()])].sort((a, b) => a - b);
    for (const id of ids) {
      checks.push({
        table: spec.table,
        account: { id, name: names.get(id) ?? '?' },
        source: inSource.get(id) ?? 0,
        target: inTarget.get(id) ?? 0,
      });
    }
  }
  return checks;
}

/**
 * Compares the snapshot of the source with the target: counts per table and per account, every
 * column of every row, and (with a keyring) every connector's sealed secrets opened from the
 * target's rows. What differs is in `problems`; the copy is good when that is empty.
 */
export async function verifyCopy(
  source: Kysely<Database>,
  target: Kysely<Database>,
  tables: readonly TableReport[],
  options: Pick<CopyOptions, 'keyring' | 'onProgress'> & { batchSize: number },
): Promise<{ tables: TableReport[]; counts: CountCheck[]; secrets: SecretsCheck; problems: string[] }> {
  const problems: string[] = [];
  const counts = await countChecks(source, target);
  for (const check of counts) {
    if (check.source === check.target) continue;
    const which = check.account ? ` of account ${check.account.name} (id ${check.account.id})` : '';
    problems.push(
      `${check.table}${which}: ${check.source} row(s) in the source, ${check.target} in the target`,
    );
  }
  const secrets = { opened: 0, failed: [] as string[], failedCount: 0 };
  const verified: TableReport[] = [];
  for (const table of tables) {
    const spec = TABLES.find((t) => t.table === table.table);
    if (!spec) continue;
    const identical = await compareTable(source, target, spec, table.sourceRows, options, problems, secrets);
    verified.push({ ...table, identical });
  }
  if (secrets.failedCount > 0) {
    problems.push(
      `${secrets.failedCount} connector(s) in the target whose secrets do not open under the source's keys (${secrets.failed.join(', ')})`,
    );
  }
  return { tables: verified, counts, secrets, problems };
}
