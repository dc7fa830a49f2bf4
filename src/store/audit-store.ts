import type { Kysely, QueryCreator } from 'kysely';
import { newId, nowIso } from './ids.js';
import type { AuditAction, Database } from './schema.js';

/** Who made a change: the key, by id and label (never the key itself). */
export interface Actor {
  readonly keyId: string;
  readonly keyLabel: string;
}

export interface AuditEvent {
  readonly id: string;
  readonly at: string;
  readonly action: AuditAction;
  readonly connectorId: string;
  readonly connectorName: string;
  readonly connectorType: string;
  readonly keyId: string;
  readonly keyLabel: string;
  /** Names of the fields that changed (`name`, `params.password`, …); never their values. */
  readonly fields: readonly string[];
}

export interface AuditEntry {
  readonly accountId: number;
  readonly actor: Actor;
  readonly action: AuditAction;
  readonly connector: { readonly id: string; readonly name: string; readonly type: string };
  readonly fields: readonly string[];
}

/** The insert of one event, to run with the change (as a statement of its transaction, or a part of its statement). */
export function auditInsert(db: QueryCreator<Database>, entry: AuditEntry) {
  return db.insertInto('audit_events').values({
    id: newId(),
    account_id: entry.accountId,
    at: nowIso(),
    action: entry.action,
    connector_id: entry.connector.id,
    connector_name: entry.connector.name,
    connector_type: entry.connector.type,
    key_id: entry.actor.keyId,
    key_label: entry.actor.keyLabel,
    fields: JSON.stringify(entry.fields),
  });
}

/** Records one event; call it with the transaction that makes the change, so both land or neither. */
export async function recordAuditEvent(db: Kysely<Database>, entry: AuditEntry): Promise<void> {
  await auditInsert(db, entry).execute();
}

export interface AuditStore {
  /** Newest first. */
  list(accountId: number, offset: number, limit: number): Promise<AuditEvent[]>;
  /** Newest first, across accounts or for one account by name (for the CLI). */
  listByAccountName(
    account: string | undefined,
    limit: number,
  ): Promise<(AuditEvent & { account: string })[]>;
}

export function createAuditStore(db: Kysely<Database>): AuditStore {
  const query = () =>
    db
      .selectFrom('audit_events')
      .innerJoin('accounts', 'accounts.id', 'audit_events.account_id')
      .select([
        'audit_events.id as id',
        'audit_events.at as at',
        'audit_events.action as action',
        'audit_events.connector_id as connectorId',
        'audit_events.connector_name as connectorName',
        'audit_events.connector_type as connectorType',
        'audit_events.key_id as keyId',
        'audit_events.key_label as keyLabel',
        'audit_events.fields as fields',
        'accounts.name as account',
      ])
      .orderBy('audit_events.seq', 'desc');
  const parse = <T extends { fields: string }>(row: T) => ({
    ...row,
    fields: JSON.parse(row.fields) as string[],
  });

  return {
    async list(accountId, offset, limit) {
      const rows = await query()
        .where('audit_events.account_id', '=', accountId)
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(({ account: _account, ...row }) => parse(row));
    },
    async listByAccountName(account, limit) {
      let q = query().limit(limit);
      if (account !== undefined) q = q.where('accounts.name', '=', account);
      return (await q.execute()).map(parse);
    },
  };
}
