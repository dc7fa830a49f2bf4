import { CompiledQuery, type Kysely, type Selectable, sql } from 'kysely';
import type { DeliveryEvent, ExternalRef, Ticket } from '../connectors/delivery.js';
import { errors } from '../errors.js';
import { compiledOnce } from './compiled.js';
import { dialectOf } from './dialect.js';
import { newId, nowIso } from './ids.js';
import type {
  AttemptOutcome,
  AttemptRow,
  Database,
  DeliveriesTable,
  DeliveryRow,
  DeliveryState,
} from './schema.js';
import { ownTransactions, type Transact } from './transact.js';

export { DELIVERY_STATES } from './schema.js';

/** One attempt as the API shows it. */
export interface Attempt {
  readonly number: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly httpStatus?: number;
  readonly outcome: AttemptOutcome;
  readonly message: string;
}

/** A delivery as the API shows it. */
export interface Delivery {
  readonly id: string;
  readonly connectorId: string;
  readonly connectorType: string;
  readonly event: DeliveryEvent;
  readonly params: Record<string, unknown>;
  readonly state: DeliveryState;
  readonly attempts: Attempt[];
  readonly nextAttemptAt?: string;
  readonly externalRef?: ExternalRef;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
}

/** A delivery the worker holds: what it needs to send it. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly accountId: number;
  readonly connectorId: string;
  readonly connectorType: string;
  /** Parsed from `eventJson` when first read. */
  readonly event: DeliveryEvent;
  /** The event as queued: the text JSON.stringify made of it (what JSON.stringify(event) gives). */
  readonly eventJson: string;
  readonly options: Record<string, unknown>;
  readonly alertKey: string | null;
  /** Attempts recorded before this one. */
  readonly attemptCount: number;
  readonly createdAt: string;
}

/** What one attempt came to, to record. */
export interface AttemptRecord {
  readonly delivery: ClaimedDelivery;
  readonly attempt: Omit<Attempt, 'number'>;
  readonly next:
    | { readonly state: 'delivered'; readonly externalRef?: ExternalRef | undefined }
    | { readonly state: 'failed' }
    | { readonly state: 'retrying'; readonly nextAttemptAt: string };
  /** The ticket of (connector, alertKey) as the target now has it. */
  readonly ticket?: Ticket | undefined;
}

/** A connector with deliveries waiting, and when the first of them may be sent. */
export interface PendingConnector {
  readonly connectorId: string;
  readonly accountId: number;
  readonly due: string;
}

/** How much waits, for metrics: deliveries not finished, and the age of the oldest of them. */
export interface QueueStats {
  readonly depth: number;
  readonly oldestQueuedAgeMs: number;
}

export interface DeliveryFilter {
  readonly connectorId?: string;
  readonly state?: DeliveryState;
}

/**
 * Deliveries: the API's side (account-scoped, like the connector store) and the worker's (claims
 * with a lease, attempts, tickets). Pending rows are those with `finished_at` null; the partial
 * indexes of migration 0007 hold only those, and every query of the queue names that term.
 */
export interface DeliveryStore {
  /**
   * Queues a delivery, in its own transaction or in `within` (the Idempotency-Key's); refuses with
   * QUEUE_FULL when the account already has `cap` pending.
   */
  enqueue(
    accountId: number,
    connector: { readonly id: string; readonly type: string },
    event: DeliveryEvent,
    options: Record<string, unknown>,
    cap: number,
    within?: Kysely<Database>,
  ): Promise<Delivery>;
  get(accountId: number, id: string): Promise<Delivery | undefined>;
  /** Newest first. */
  list(accountId: number, filter: DeliveryFilter, offset: number, limit: number): Promise<Delivery[]>;
  /** Queues a failed or cancelled delivery again; undefined when there is none. */
  retry(accountId: number, id: string): Promise<Delivery | undefined>;
  /** Cancels a queued or retrying delivery; undefined when there is none. */
  cancel(accountId: number, id: string): Promise<Delivery | undefined>;

  /** Connectors with queued or retrying deliveries (every account), with their earliest due time. */
  pendingConnectors(): Promise<PendingConnector[]>;
  /**
   * Claims up to `limit` due deliveries of one connector for `owner` until `leaseUntil`, oldest
   * first, skipping any whose (connector, alertKey) has an earlier one pending: one at a time per
   * alert, in order. On PostgreSQL, rows another instance is claiming are skipped (SKIP LOCKED).
   */
  claim(connectorId: string, owner: string, limit: number, leaseUntil: string): Promise<ClaimedDelivery[]>;
  /**
   * Deliveries whose lease ended while `sending` (their server died or hung): retried now, with an
   * `interrupted` attempt recorded. Their number.
   */
  takeOverExpired(): Promise<number>;
  /** Records attempts, in one transaction; an attempt whose claim `owner` no longer holds is dropped. */
  record(owner: string, records: readonly AttemptRecord[]): Promise<void>;
  /** Gives up claims (shutdown): the deliveries are due again at once, for any server. */
  release(owner: string, ids: readonly string[]): Promise<void>;
  /** The ticket of (connector, alertKey), if a delivery made one. */
  ticket(connectorId: string, alertKey: string): Promise<Ticket | undefined>;
  /** Deletes up to `limit` deliveries finished before `before` (and their attempts); how many. */
  prune(before: string, limit: number): Promise<number>;
  /** Queue depth and the oldest pending delivery's age, over every account. */
  queueStats(now?: number): Promise<QueueStats>;
  /** Whether the worker has anything to do: a delivery not finished, or one finished before `before` (the retention prunes it). */
  hasWork(before: string): Promise<boolean>;
}

/** Whether any delivery is pending, or finished `before` (due for pruning): DeliveryStore.hasWork. */
export async function hasDeliveryWork(db: Kysely<Database>, before: string): Promise<boolean> {
  const row = await db
    .selectFrom('deliveries')
    .select('seq')
    .where((eb) => eb.or([eb('finished_at', 'is', null), eb('finished_at', '<', before)]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Cancels a deleted connector's pending deliveries and forgets its tickets, in the deleting transaction. */
export async function cancelDeliveriesOf(trx: Kysely<Database>, connectorId: string): Promise<void> {
  const now = nowIso();
  await trx
    .updateTable('deliveries')
    .set({
      state: 'cancelled',
      next_attempt_at: null,
      finished_at: now,
      updated_at: now,
    })
    .where('connector_id', '=', connectorId)
    .where('finished_at', 'is', null)
    .where('state', 'in', ['queued', 'retrying'])
    .execute();
  await trx.deleteFrom('delivery_tickets').where('connector_id', '=', connectorId).execute();
}

/**
 * A claim on SQLite as two statements compiled once: the candidates (the same query as the
 * builder's in `claim`, which PostgreSQL runs with FOR UPDATE SKIP LOCKED), then the update.
 */
const SQLITE_CLAIM = {
  candidates: `select d.seq from deliveries as d
    where d.connector_id = ? and d.finished_at is null and d.state in ('queued', 'retrying')
      and d.next_attempt_at <= ?
      and not exists (select e.seq from deliveries as e
        where e.connector_id = d.connector_id and e.alert_key = d.alert_key and e.seq < d.seq
          and e.finished_at is null)
    order by d.seq limit ?`,
  // The columns a claimed delivery is made of (ClaimedRow), not `*`: better-sqlite3 makes each
  // row's object column by column, and the seven others took a quarter of the statement (16-row
  // claims on a copy of the bench's table: 5.7 µs per row with `*`, 4.1 with these).
  take: `update deliveries
    set state = 'sending', lease_owner = ?, lease_until = ?, updated_at = ?
    where seq in (select value from json_each(?))
    returning seq, id, account_id, connector_id, connector_type, event, options, alert_key,
      attempt_count, created_at`,
};

/** What a claim reads of each row it takes (SQLITE_CLAIM.take). */
type ClaimedColumns = Pick<
  Selectable<DeliveriesTable>,
  | 'seq'
  | 'id'
  | 'account_id'
  | 'connector_id'
  | 'connector_type'
  | 'event'
  | 'options'
  | 'alert_key'
  | 'attempt_count'
  | 'created_at'
>;

/** How long an account's pending count is used before the queue is counted again (see enqueue). */
const RECOUNT_MS = 1_000;
/** Accounts whose pending count is kept; past that the counts start over. */
const MAX_COUNTED_ACCOUNTS = 10_000;

/** A NUL character is in no id; PostgreSQL refuses it in a parameter (see connector-store.ts). */
const cannotExist = (text: string) => text.includes('\u0000');

function toAttempt(row: AttemptRow): Attempt {
  return {
    number: row.number,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    ...(row.http_status === null ? {} : { httpStatus: row.http_status }),
    outcome: row.outcome,
    message: row.message,
  };
}

function toDelivery(row: DeliveryRow, attempts: readonly AttemptRow[]): Delivery {
  return {
    id: row.id,
    connectorId: row.connector_id,
    connectorType: row.connector_type,
    event: JSON.parse(row.event) as DeliveryEvent,
    params: JSON.parse(row.options) as Record<string, unknown>,
    state: row.state,
    attempts: attempts.map(toAttempt),
    ...(row.next_attempt_at === null ? {} : { nextAttemptAt: row.next_attempt_at }),
    ...(row.external_ref === null ? {} : { externalRef: JSON.parse(row.external_ref) as ExternalRef }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
  };
}

/**
 * A claimed row as the worker holds it, its event parsed from `eventJson` when first read (a type
 * that posts the event as it is, dynamic, sends `eventJson` and never reads it). A class, not an
 * object literal with a getter: V8 makes such a literal through the runtime, accessor by accessor
 * (~0.7 µs each, measured, against ~0.03 µs for a class instance), once per delivery claimed.
 */
class ClaimedRow implements ClaimedDelivery {
  readonly id: string;
  readonly accountId: number;
  readonly connectorId: string;
  readonly connectorType: string;
  readonly eventJson: string;
  readonly options: Record<string, unknown>;
  readonly alertKey: string | null;
  readonly attemptCount: number;
  readonly createdAt: string;
  #event: DeliveryEvent | undefined;

  constructor(row: ClaimedColumns) {
    this.id = row.id;
    this.accountId = row.account_id;
    this.connectorId = row.connector_id;
    this.connectorType = row.connector_type;
    this.eventJson = row.event;
    this.options = JSON.parse(row.options) as Record<string, unknown>;
    this.alertKey = row.alert_key;
    this.attemptCount = row.attempt_count;
    this.createdAt = row.created_at;
  }

  get event(): DeliveryEvent {
    this.#event ??= JSON.parse(this.eventJson) as DeliveryEvent;
    return this.#event;
  }
}

function toClaimed(row: ClaimedColumns): ClaimedDelivery {
  return new ClaimedRow(row);
}

/** The attempts of these deliveries, by delivery id, in order. */
async function attemptsOf(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, AttemptRow[]>> {
  const byId = new Map<string, AttemptRow[]>();
  if (ids.length === 0) return byId;
  const rows = await db
    .selectFrom('delivery_attempts')
    .selectAll()
    .where('delivery_id', 'in', ids)
    .orderBy('delivery_id')
    .orderBy('number')
    .execute();
  for (const row of rows) {
    const list = byId.get(row.delivery_id) ?? [];
    list.push(row);
    byId.set(row.delivery_id, list);
  }
  return byId;
}

/** An attempt that finishes its delivery and records nothing but the attempt (see record). */
function isPlainFinish(record: AttemptRecord): boolean {
  const { next, ticket } = record;
  if (ticket !== undefined) return false;
  return next.state === 'failed' || (next.state === 'delivered' && next.externalRef === undefined);
}

/**
 * Records attempts that finished their deliveries as `state`, on SQLite, in two statements: the
 * deliveries this owner still holds are updated (a delivery taken over meanwhile keeps the other
 * server's record, as in the one-by-one path), then their attempts inserted. The attempt number is
 * the claimed count plus one, as `attempt_count + 1` is while the claim holds.
 */
async function recordPlainFinishes(
  trx: Kysely<Database>,
  owner: string,
  state: 'delivered' | 'failed',
  records: readonly AttemptRecord[],
  now: string,
): Promise<void> {
  const ids = JSON.stringify(records.map((r) => r.delivery.id));
  const { rows } = await sql<{ id: string }>`update deliveries
      set state = ${state}, attempt_count = attempt_count + 1, next_attempt_at = null,
        lease_owner = null, lease_until = null, updated_at = ${now}, finished_at = ${now}
      where id in (select value from json_each(${ids})) and state = 'sending' and lease_owner = ${owner}
      returning id`.execute(trx);
  if (rows.length === 0) return;
  const held = new Set(rows.map((row) => row.id));
  const attempts = JSON.stringify(
    records
      .filter((r) => held.has(r.delivery.id))
      .map(({ delivery, attempt }) => [
        delivery.id,
        delivery.attemptCount + 1,
        attempt.startedAt,
        attempt.durationMs,
        attempt.httpStatus ?? null,
        attempt.outcome,
        attempt.message,
      ]),
  );
  await sql`insert into delivery_attempts
      (delivery_id, number, started_at, duration_ms, http_status, outcome, message)
      select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
        json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
        json_extract(value, '$[6]')
      from json_each(${attempts})`.execute(trx);
}

/**
 * `worker` is the handle for the worker's own writes (claims, records, take-overs, releases,
 * pruning): DatabaseHandle.relaxed, whose commits may be lost on a power loss but not on a crash
 * of the process. A lost one means a delivery sent again (at least once, as documented), never one
 * lost: accepting writes through `transact`.
 */
export function createDeliveryStore(
  db: Kysely<Database>,
  worker: Kysely<Database> = db,
  /** How accepts get their transaction (DatabaseHandle.transact: grouped on SQLite, one fsync for those that arrive together). */
  transact: Transact = ownTransactions(db),
): DeliveryStore {
  const postgres = dialectOf(db) === 'postgres';
  /**
   * The queue cap without counting the queue at every accept (the count reads every pending row
   * of the account's, up to the cap: 0.1 ms with 50 pending, 1.4 ms with 10,000, measured). Per
   * account: its pending deliveries as last counted, plus those this process queued since. That
   * only overstates what is pending here (deliveries finished meanwhile are not taken off), so an
   * accept that would reach the cap counts again, exactly, and is refused only then; and the count
   * is made again at least every RECOUNT_MS, which bounds what other processes' accepts (PostgreSQL,
   * several servers) add unseen. An accept rolled back still counts: an overstatement too.
   */
  const pendingCounts = new Map<number, { pending: number; at: number }>();
  /**
   * An accept's insert, built and compiled once (compiled.ts): Kysely built, transformed and
   * compiled it anew for every accept, on the event loop that answers them; in a SQLite write group
   * it now runs at once. The stand-ins are values no request sends.
   */
  const insertDelivery = compiledOnce(
    db
      .insertInto('deliveries')
      .values({
        id: '\u0000id',
        account_id: -1,
        connector_id: '\u0000connector',
        connector_type: '\u0000type',
        event: '\u0000event',
        options: '\u0000options',
        alert_key: '\u0000alertKey',
        state: 'queued',
        next_attempt_at: '\u0000next',
        created_at: '\u0000created',
        updated_at: '\u0000updated',
      })
      // The columns by name, never `*`: on PostgreSQL this runs as a named prepared statement on
      // each pooled connection, and a column added by a later migration would change `*`'s result
      // type, which PostgreSQL refuses for the saved plan (0A000 "cached plan must not change
      // result type") on every accept of an older instance during a rolling upgrade.
      .returning([
        'seq',
        'id',
        'account_id',
        'connector_id',
        'connector_type',
        'event',
        'options',
        'alert_key',
        'state',
        'attempt_count',
        'next_attempt_at',
        'lease_owner',
        'lease_until',
        'external_ref',
        'created_at',
        'updated_at',
        'finished_at',
      ])
      .compile(),
    [
      '\u0000id',
      -1,
      '\u0000connector',
      '\u0000type',
      '\u0000event',
      '\u0000options',
      '\u0000alertKey',
      'queued',
      '\u0000next',
      '\u0000created',
      '\u0000updated',
    ] as const,
  );

  async function getRow(trx: Kysely<Database>, accountId: number, id: string) {
    if (cannotExist(id)) return undefined;
    return trx
      .selectFrom('deliveries')
      .selectAll()
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .executeTakeFirst();
  }

  async function present(trx: Kysely<Database>, row: DeliveryRow): Promise<Delivery> {
    const attempts = await attemptsOf(trx, [row.id]);
    return toDelivery(row, attempts.get(row.id) ?? []);
  }

  return {
    async enqueue(accountId, connector, event, options, cap, within) {
      const work = async (trx: Kysely<Database>) => {
        const counted = pendingCounts.get(accountId);
        const at = Date.now();
        if (counted && counted.pending < cap && at - counted.at < RECOUNT_MS) {
          counted.pending++;
        } else {
          // Counting stops at the cap: a full queue costs no more to refuse than a short one.
          const { rows } = await sql<{ n: number | string }>`select count(*) as n from (
              select 1 from deliveries where account_id = ${accountId} and finished_at is null limit ${cap}
            ) as pending`.execute(trx);
          const pending = Number(rows[0]?.n ?? 0);
          if (pendingCounts.size >= MAX_COUNTED_ACCOUNTS && !counted) pendingCounts.clear();
          pendingCounts.set(accountId, { pending: pending + 1, at });
          if (pending >= cap) throw errors.queueFull(cap, 30);
        }
        const now = nowIso();
        const { rows } = await insertDelivery(
          trx,
          `dlv_${newId()}`,
          accountId,
          connector.id,
          connector.type,
          JSON.stringify(event),
          JSON.stringify(options),
          event.alertKey ?? null,
          'queued',
          now,
          now,
          now,
        );
        const row = rows[0];
        if (!row) throw new Error('the delivery was not inserted');
        return toDelivery(row, []);
      };
      return within ? work(within) : transact(work);
    },

    async get(accountId, id) {
      const row = await getRow(db, accountId, id);
      return row && present(db, row);
    },

    async list(accountId, filter, offset, limit) {
      if (filter.connectorId !== undefined && cannotExist(filter.connectorId)) return [];
      let query = db.selectFrom('deliveries').selectAll().where('account_id', '=', accountId);
      if (filter.connectorId !== undefined) query = query.where('connector_id', '=', filter.connectorId);
      if (filter.state !== undefined) query = query.where('state', '=', filter.state);
      const rows = await query.orderBy('seq', 'desc').limit(limit).offset(offset).execute();
      const attempts = await attemptsOf(
        db,
        rows.map((row) => row.id),
      );
      return rows.map((row) => toDelivery(row, attempts.get(row.id) ?? []));
    },

    async retry(accountId, id) {
      return db.transaction().execute(async (trx) => {
        const row = await getRow(trx, accountId, id);
        if (!row) return undefined;
        if (row.state !== 'failed' && row.state !== 'cancelled') {
          throw errors.deliveryState(
            `delivery ${id} is ${row.state}; only a failed or cancelled delivery can be retried`,
          );
        }
        const now = nowIso();
        const updated = await trx
          .updateTable('deliveries')
          .set({ state: 'queued', next_attempt_at: now, finished_at: null, updated_at: now })
          .where('id', '=', id)
          .where('state', '=', row.state)
          .returningAll()
          .executeTakeFirstOrThrow();
        // Pending again: counted toward the cap until the next count (see enqueue).
        const counted = pendingCounts.get(accountId);
        if (counted) counted.pending++;
        return present(trx, updated);
      });
    },

    async cancel(accountId, id) {
      return db.transaction().execute(async (trx) => {
        const row = await getRow(trx, accountId, id);
        if (!row) return undefined;
        if (row.state !== 'queued' && row.state !== 'retrying') {
          const why =
            row.state === 'sending'
              ? 'it is being sent now; cancel it again once this attempt ends (GET it to see)'
              : `it is ${row.state} already`;
          throw errors.deliveryState(`delivery ${id} cannot be cancelled: ${why}`);
        }
        const now = nowIso();
        // Only while still waiting: a worker that claimed it meanwhile (PostgreSQL) wins.
        const updated = await trx
          .updateTable('deliveries')
          .set({ state: 'cancelled', next_attempt_at: null, finished_at: now, updated_at: now })
          .where('id', '=', id)
          .where('state', 'in', ['queued', 'retrying'])
          .returningAll()
          .executeTakeFirst();
        if (!updated) {
          throw errors.deliveryState(`delivery ${id} cannot be cancelled: it is being sent now`);
        }
        return present(trx, updated);
      });
    },

    async pendingConnectors() {
      const rows = await db
        .selectFrom('deliveries')
        .select(['connector_id', 'account_id', (eb) => eb.fn.min('next_attempt_at').as('due')])
        .where('finished_at', 'is', null)
        .where('state', 'in', ['queued', 'retrying'])
        .groupBy(['connector_id', 'account_id'])
        .execute();
      return rows.map((row) => ({
        connectorId: row.connector_id,
        accountId: row.account_id,
        due: row.due ?? nowIso(),
      }));
    },

    async claim(connectorId, owner, limit, leaseUntil) {
      const now = nowIso();
      const candidates = (on: Kysely<Database>) =>
        on
          .selectFrom('deliveries as d')
          .select('d.seq')
          .where('d.connector_id', '=', connectorId)
          .where('d.finished_at', 'is', null)
          .where('d.state', 'in', ['queued', 'retrying'])
          .where('d.next_attempt_at', '<=', now)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('deliveries as e')
                  .select('e.seq')
                  .whereRef('e.connector_id', '=', 'd.connector_id')
                  .whereRef('e.alert_key', '=', 'd.alert_key')
                  .whereRef('e.seq', '<', 'd.seq')
                  .where('e.finished_at', 'is', null),
              ),
            ),
          )
          .orderBy('d.seq')
          .limit(limit);
      if (postgres) {
        const rows = await worker
          .updateTable('deliveries')
          .set({ state: 'sending', lease_owner: owner, lease_until: leaseUntil, updated_at: now })
          .where('seq', 'in', candidates(worker).forUpdate().skipLocked())
          .returningAll()
          .execute();
        return rows.sort((a, b) => a.seq - b.seq).map(toClaimed);
      }
      // SQLite: the candidates read, then updated by seq, in one transaction. The single UPDATE
      // with the candidates as its subquery cost ~2 ms of CPU per claim, whatever its size (the
      // two statements: ~0.1 ms for 8). Both compiled once (SQLITE_CLAIM): building the
      // candidates with Kysely's builder took more CPU than running them.
      return worker.transaction().execute(async (trx) => {
        const candidates = await trx.executeQuery<{ seq: number }>(
          CompiledQuery.raw(SQLITE_CLAIM.candidates, [connectorId, now, limit]),
        );
        const seqs = candidates.rows.map((row) => row.seq);
        if (seqs.length === 0) return [];
        const { rows } = await trx.executeQuery<ClaimedColumns>(
          CompiledQuery.raw(SQLITE_CLAIM.take, [owner, leaseUntil, now, JSON.stringify(seqs)]),
        );
        return rows.sort((a, b) => a.seq - b.seq).map(toClaimed);
      });
    },

    async takeOverExpired() {
      return worker.transaction().execute(async (trx) => {
        const now = nowIso();
        let expired = trx
          .selectFrom('deliveries')
          .select('seq')
          .where('finished_at', 'is', null)
          .where('state', '=', 'sending')
          .where('lease_until', '<', now);
        if (postgres) expired = expired.forUpdate().skipLocked();
        const rows = await trx
          .updateTable('deliveries')
          .set((eb) => ({
            state: 'retrying',
            attempt_count: eb('attempt_count', '+', 1),
            lease_owner: null,
            lease_until: null,
            next_attempt_at: now,
            updated_at: now,
          }))
          .where('seq', 'in', expired)
          .returning(['id', 'attempt_count', 'lease_until'])
          .execute();
        if (rows.length === 0) return 0;
        await trx
          .insertInto('delivery_attempts')
          .values(
            rows.map((row) => ({
              delivery_id: row.id,
              number: row.attempt_count,
              started_at: now,
              duration_ms: 0,
              http_status: null,
              outcome: 'interrupted' as const,
              message:
                'the server sending this delivery stopped before recording the answer (its lease ended); ' +
                'sent again, so the target may see it twice',
            })),
          )
          .execute();
        return rows.length;
      });
    },

    async record(owner, records) {
      if (records.length === 0) return;
      await worker.transaction().execute(async (trx) => {
        const now = nowIso();
        // SQLite: the attempts that finish a delivery and set nothing of their own (no external
        // reference, no ticket), in two statements per state for the lot.
        const alike = postgres ? [] : records.filter(isPlainFinish);
        for (const state of ['delivered', 'failed'] as const) {
          const these = alike.filter((r) => r.next.state === state);
          if (these.length > 0) await recordPlainFinishes(trx, owner, state, these, now);
        }
        for (const { delivery, attempt, next, ticket } of records) {
          if (alike.length > 0 && isPlainFinish({ delivery, attempt, next, ticket })) continue;
          const number = delivery.attemptCount + 1;
          const finished = next.state !== 'retrying';
          const updated = await trx
            .updateTable('deliveries')
            .set({
              state: next.state,
              attempt_count: number,
              next_attempt_at: next.state === 'retrying' ? next.nextAttemptAt : null,
              lease_owner: null,
              lease_until: null,
              updated_at: now,
              ...(finished ? { finished_at: now } : {}),
              ...(next.state === 'delivered' && next.externalRef
                ? { external_ref: JSON.stringify(next.externalRef) }
                : {}),
            })
            .where('id', '=', delivery.id)
            .where('state', '=', 'sending')
            .where('lease_owner', '=', owner)
            .executeTakeFirst();
          // The lease ended and another server took the delivery over: its record is the one kept.
          if (updated.numUpdatedRows === 0n) continue;
          await trx
            .insertInto('delivery_attempts')
            .values({
              delivery_id: delivery.id,
              number,
              started_at: attempt.startedAt,
              duration_ms: attempt.durationMs,
              http_status: attempt.httpStatus ?? null,
              outcome: attempt.outcome,
              message: attempt.message,
            })
            .execute();
          if (ticket && delivery.alertKey !== null) {
            const values = {
              ticket_id: ticket.id,
              url: ticket.url ?? null,
              open: ticket.open ? 1 : 0,
              updated_at: now,
            };
            await trx
              .insertInto('delivery_tickets')
              .values({
                connector_id: delivery.connectorId,
                alert_key: delivery.alertKey,
                account_id: delivery.accountId,
                ...values,
              })
              .onConflict((oc) => oc.columns(['connector_id', 'alert_key']).doUpdateSet(values))
              .execute();
          }
        }
      });
    },

    async release(owner, ids) {
      if (ids.length === 0) return;
      const now = nowIso();
      await worker
        .updateTable('deliveries')
        .set({
          state: sql<DeliveryState>`case when attempt_count > 0 then 'retrying' else 'queued' end`,
          lease_owner: null,
          lease_until: null,
          next_attempt_at: now,
          updated_at: now,
        })
        .where('id', 'in', ids)
        .where('state', '=', 'sending')
        .where('lease_owner', '=', owner)
        .execute();
    },

    async ticket(connectorId, alertKey) {
      const row = await db
        .selectFrom('delivery_tickets')
        .select(['ticket_id', 'url', 'open'])
        .where('connector_id', '=', connectorId)
        .where('alert_key', '=', alertKey)
        .executeTakeFirst();
      if (!row) return undefined;
      return { id: row.ticket_id, ...(row.url === null ? {} : { url: row.url }), open: row.open === 1 };
    },

    async prune(before, limit) {
      return worker.transaction().execute(async (trx) => {
        const rows = await trx
          .selectFrom('deliveries')
          .select('id')
          .where('finished_at', '<', before)
          .orderBy('finished_at')
          .limit(limit)
          .execute();
        const ids = rows.map((row) => row.id);
        if (ids.length === 0) return 0;
        await trx.deleteFrom('delivery_attempts').where('delivery_id', 'in', ids).execute();
        await trx.deleteFrom('deliveries').where('id', 'in', ids).execute();
        return ids.length;
      });
    },

    hasWork(before) {
      return hasDeliveryWork(db, before);
    },

    async queueStats(now = Date.now()) {
      const row = await db
        .selectFrom('deliveries')
        .select((eb) => [eb.fn.countAll<number | string>().as('depth'), eb.fn.min('created_at').as('oldest')])
        .where('finished_at', 'is', null)
        .executeTakeFirst();
      const oldest = row?.oldest ? Date.parse(row.oldest) : now;
      return { depth: Number(row?.depth ?? 0), oldestQueuedAgeMs: Math.max(0, now - oldest) };
    },
  };
}
