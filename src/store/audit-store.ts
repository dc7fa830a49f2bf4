import type { Insertable, Kysely, QueryCreator } from 'kysely';
import { compiledOnce, type ValuesOf } from './compiled.js';
import { newTimeOrderedId, nowIso } from './ids.js';
import type { AuditAction, AuditEventsTable, Database } from './schema.js';

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
  return db.insertInto('audit_events').values(auditRowOf(auditValues(entry)));
}

/** An event's row made of its values in the order of AUDIT_STAND_INS. */
function auditRowOf(values: ValuesOf<typeof AUDIT_STAND_INS>): Insertable<AuditEventsTable> {
  const [id, accountId, at, action, connectorId, connectorName, connectorType, keyId, keyLabel, fields] =
    values;
  return {
    id: id as string,
    account_id: accountId as number,
    at: at as string,
    action: action as AuditAction,
    connector_id: connectorId as string,
    connector_name: connectorName as string,
    connector_type: connectorType as string,
    key_id: keyId as string,
    key_label: keyLabel as string,
    fields: fields as string,
  };
}

/** An event's values, in the order of AUDIT_STAND_INS. */
export function auditValues(entry: AuditEntry): ValuesOf<typeof AUDIT_STAND_INS> {
  return [
    newTimeOrderedId(),
    entry.accountId,
    nowIso(),
    entry.action,
    entry.connector.id,
    entry.connector.name,
    entry.connector.type,
    entry.actor.keyId,
    entry.actor.keyLabel,
    JSON.stringify(entry.fields),
  ];
}

/** Stand-ins (compiled.ts) of an event's values, each distinct and none a value a request sends. */
export const AUDIT_STAND_INS = [
  '\u0000audit id',
  -101,
  '\u0000audit at',
  '\u0000audit action',
  '\u0000audit connector id',
  '\u0000audit connector name',
  '\u0000audit connector type',
  '\u0000audit key id',
  '\u0000audit key label',
  '\u0000audit fields',
] as const;

/** The insert of an event with stand-ins for its values, to compile once (in a statement of its own or as a part). */
export function auditInsertOfStandIns(db: QueryCreator<Database>) {
  return db.insertInto('audit_events').values(auditRowOf(AUDIT_STAND_INS));
}

/** recordAuditEvent with its insert compiled once (compiled.ts), for the hot writes. */
export function auditRecorder(
  db: Kysely<Database>,
): (on: Kysely<Database>, entry: AuditEntry) => Promise<void> {
  const insert = compiledOnce(auditInsertOfStandIns(db).compile(), AUDIT_STAND_INS);
  return async (on, entry) => {
    await insert(on, ...auditValues(entry));
  };
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
