import { CompiledQuery, type Kysely, type QueryCreator, sql } from 'kysely';
import type { CheckResult } from '../connectors/checks/run.js';
import type { Params } from '../connectors/checks/types.js';
import type { RegisteredType } from '../connectors/registry.js';
import { errors } from '../errors.js';
import type { SecretBox } from '../secrets/secret-box.js';
import {
  type Actor,
  AUDIT_STAND_INS,
  auditInsertOfStandIns,
  auditRecorder,
  auditValues,
  recordAuditEvent,
} from './audit-store.js';
import { compiledOnce, onOwnConnectorChange, stampNow } from './compiled.js';
import { ConnectorCache } from './connector-cache.js';
import type { ConnectorChanges } from './connector-changes.js';
import {
  connectorColumns as columns,
  connectorRowCodec,
  type ReadConnectorRow,
  type StoredConnector,
} from './connector-row.js';
import { cancelDeliveriesOf } from './delivery-store.js';
import { dialectOf, forUpdate } from './dialect.js';
import { isConnectorNameTaken } from './errors.js';
import { laterThan, newTimeOrderedId, nowIso } from './ids.js';
import { PageCursors } from './page-cursors.js';
import type { Database } from './schema.js';
import { ownTransactions, type Transact } from './transact.js';

export type { StoredConnector } from './connector-row.js';

/** A check of the current version, run inside the writing transaction; throws to refuse the write. */
export type Precondition = (current: StoredConnector) => void;

export interface ConnectorFields {
  readonly type: RegisteredType;
  readonly name: string;
  readonly params: Params;
}

/**
 * Connectors of one account at a time: every method is scoped by the caller's account. Secret
 * params are sealed on the way in and opened on the way out; nothing else sees ciphertext.
 * Every change records an audit event in the same transaction.
 */
export interface ConnectorStore {
  /** In its own transaction, or in `within` (to record an Idempotency-Key's response with it). */
  create(
    accountId: number,
    actor: Actor,
    fields: ConnectorFields,
    within?: Kysely<Database>,
  ): Promise<StoredConnector>;
  get(accountId: number, id: string): Promise<StoredConnector | undefined>;
  /**
   * `get` at once, synchronously, where the database can read so now (SQLite with no transaction
   * open) or, on PostgreSQL, where a read before is kept and known current (connector-cache.ts);
   * `null` where it cannot (a transaction open, nothing kept): then `get` is the way.
   */
  getNow(accountId: number, id: string): StoredConnector | undefined | null;
  getByName(accountId: number, name: string): Promise<StoredConnector | undefined>;
  /** A page in creation order. */
  list(accountId: number, offset: number, limit: number): Promise<StoredConnector[]>;
  /**
   * `list` at once, synchronously, where the database can read so now (SQLite with no transaction
   * open) and the page needs no new cursor marks; `null` otherwise: then `list` is the way. The
   * same page read again with nothing written in between may be the same (frozen) array.
   */
  listNow(accountId: number, offset: number, limit: number): readonly StoredConnector[] | null;
  /**
   * Reads a page before it is asked for (a client walking the list will ask for it next), and
   * keeps it, with the database's stamp read before it, for the first listNow of it: that listNow
   * gives the same array if nothing was written since, and reads again otherwise. `null` where it
   * cannot read at once (as listNow) or has no stamp; the page kept otherwise.
   */
  readAheadNow?(accountId: number, offset: number, limit: number): readonly StoredConnector[] | null;
  /**
   * Replaces name and params with what `change` makes of the current version, read inside the
   * writing transaction (so checks, If-Match and kept secrets all see the version being replaced);
   * `change` may throw to refuse. Undefined when the connector does not exist.
   */
  update(
    accountId: number,
    actor: Actor,
    id: string,
    change: (current: StoredConnector) => Omit<ConnectorFields, 'type'>,
  ): Promise<StoredConnector | undefined>;
  delete(accountId: number, actor: Actor, id: string, precondition?: Precondition): Promise<boolean>;
  /** Stores the result of a credential check; false when the connector is gone. Not a change: no audit event. */
  recordCheck(
    accountId: number,
    id: string,
    checked: Pick<StoredConnector, 'updatedAt'>,
    result: CheckResult,
  ): Promise<boolean>;
}

/**
 * A NUL character cannot be in any stored id or name (validation refuses it), and PostgreSQL refuses
 * it in a query parameter; a lookup by such a string finds nothing without asking the database.
 */
function cannotExist(text: string): boolean {
  return text.includes('\u0000');
}

/** One account's connector row by id; `forWrite` (in a transaction) locks it until the transaction ends. */
async function rowById(db: Kysely<Database>, accountId: number, id: string, { forWrite = false } = {}) {
  if (cannotExist(id)) return undefined;
  const query = db
    .selectFrom('connectors')
    .select(columns)
    .where('id', '=', id)
    .where('account_id', '=', accountId);
  return (forWrite ? forUpdate(db, query) : query).executeTakeFirst();
}

/** Creates and deletes move list positions: say so to every server's page cursors (migration 0004). */
async function bumpConnectorsVersion(trx: Kysely<Database>, accountId: number): Promise<void> {
  await connectorsVersionBump(trx, accountId).execute();
}

/**
 * A create on PostgreSQL raises one of this many shards of the version (migration 0009), at
 * random, so that concurrent creates of an account lock different rows and commit together.
 * Deletes still raise the account's counter: a server of the version before, during a rolling
 * upgrade, reads only the counter, and a delete moves every later position (a create adds a row
 * at the end, unless it commits after a create numbered later).
 */
const VERSION_SHARDS = 16;
const randomShard = () => Math.floor(Math.random() * VERSION_SHARDS);

/**
 * PostgreSQL: the most creates one statement writes (createsAtOnce). Creates that arrive in one
 * turn of the event loop share a statement, so a round trip, a transaction and a commit (one WAL
 * flush) instead of one each; past this many, the rest go in the next statement.
 */
const MAX_CREATE_GROUP = 64;

/**
 * PostgreSQL refused the statement for what one of its rows holds or for another transaction, so
 * nothing of it was committed (such an error rolls the statement's transaction back): a constraint
 * (SQLSTATE class 23: a name taken), a value (class 22), a deadlock or a serialization failure.
 * Told by the SQLSTATE alone: the severity's text is translated (`lc_messages`: FEHLER, ERREUR),
 * and these classes are raised only as a statement's error. Any other failure (the connection
 * lost, a time-out) may have come after the commit, and a write in doubt must not be written
 * again; nor does running each alone help against an outage.
 */
export function refusedForARow(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const { code } = error;
  return (
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    (code.startsWith('23') || code.startsWith('22') || code === '40P01' || code === '40001')
  );
}

/**
 * Several creates in one statement (data-modifying CTEs over arrays, one prepared statement for
 * any number of rows): the audit events, the shards of the versions (one per account, raised by
 * its number of creates; ON CONFLICT cannot touch a row twice in one statement) and the rows.
 */
const CREATES_AT_ONCE = `with "audit" as (
  insert into "audit_events" ("id", "account_id", "at", "action", "connector_id", "connector_name", "connector_type", "key_id", "key_label", "fields")
  select * from unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
), "version" as (
  insert into "connectors_version_shards" ("account_id", "shard", "version")
  select * from unnest($11::int4[], $12::int4[], $13::int8[])
  on conflict ("account_id", "shard") do update set "version" = "connectors_version_shards"."version" + excluded."version"
)
insert into "connectors" ("id", "account_id", "type", "name", "params", "secrets", "secret_key_id", "created_at", "updated_at")
select * from unnest($14::text[], $15::int4[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[])`;

/** A create waiting for its group's statement (PostgreSQL). */
interface PendingCreate {
  readonly audit: ReturnType<typeof auditValues>;
  readonly row: ReadConnectorRow;
  readonly done: (error?: unknown) => void;
}

/** A query creator of a statement with CTEs, as one of the plain schema (the CTEs' names are not used). */
const asSchema = <DB extends Database>(q: QueryCreator<DB>) => q as unknown as QueryCreator<Database>;

function connectorsVersionBump(db: QueryCreator<Database>, accountId: number) {
  return db
    .updateTable('accounts')
    .set({ connectors_version: sql<number>`connectors_version + 1` })
    .where('id', '=', accountId);
}

function connectorsVersionShardBump(db: QueryCreator<Database>, accountId: number, shard: number) {
  return db
    .insertInto('connectors_version_shards')
    .values({ account_id: accountId, shard, version: sql<string>`1` })
    .onConflict((conflict) =>
      conflict
        .columns(['account_id', 'shard'])
        .doUpdateSet({ version: sql<string>`connectors_version_shards.version + 1` }),
    );
}

/**
 * An account's connectors version: its counter, plus on PostgreSQL the sum of its shards, read
 * in one statement (one snapshot). A number on SQLite, a numeric's text on PostgreSQL.
 */
function connectorsVersionOf(db: Kysely<Database>) {
  const query = db.selectFrom('accounts').where('id', '=', -1);
  return dialectOf(db) === 'postgres'
    ? query.select(
        sql<string>`connectors_version + coalesce((select sum(s.version) from connectors_version_shards s where s.account_id = accounts.id), 0)`.as(
          'connectors_version',
        ),
      )
    : query.select('connectors_version');
}

/** Stand-ins (compiled.ts) of a new connector row's values, in the order of newRowValues. */
const NEW_ROW_STAND_INS = [
  '\u0000id',
  -1,
  '\u0000type',
  '\u0000name',
  '\u0000params',
  '\u0000secrets',
  '\u0000secret key id',
  '\u0000created at',
  '\u0000updated at',
] as const;

function newRowOf(db: QueryCreator<Database>) {
  const [id, accountId, type, name, params, secrets, secretKeyId, createdAt, updatedAt] = NEW_ROW_STAND_INS;
  return db.insertInto('connectors').values({
    id,
    account_id: accountId,
    type,
    name,
    params,
    secrets,
    secret_key_id: secretKeyId,
    created_at: createdAt,
    updated_at: updatedAt,
  });
}

/** A new row's values, in the order of NEW_ROW_STAND_INS. */
function newRowValues(row: ReadConnectorRow) {
  return [
    row.id,
    row.account_id,
    row.type,
    row.name,
    row.params,
    row.secrets,
    row.secret_key_id,
    row.created_at,
    row.updated_at,
  ] as const;
}

/** The names of the fields that differ between two versions (`name`, `params.<key>`). */
export function changedFields(
  before: { name: string; params: Readonly<Record<string, string>> } | undefined,
  after: { name: string; params: Readonly<Record<string, string>> } | undefined,
): string[] {
  const fields: string[] = [];
  if (before?.name !== after?.name) fields.push('name');
  const keys = new Set([...Object.keys(before?.params ?? {}), ...Object.keys(after?.params ?? {})]);
  for (const key of [...keys].sort()) {
    if (before?.params[key] !== after?.params[key]) fields.push(`params.${key}`);
  }
  return fields;
}

/**
 * A connector row as one text, for pages read at once on SQLite (readPageNow): the columns joined
 * by NUL characters, the name last, each nullable column as '' for NULL and '+' and its value
 * otherwise, the account left out (the query's own). better-sqlite3 hands each value of a row to
 * V8 one property set at a time (~900 instructions each, with the value's string made), so a page
 * of 100 rows of 11 columns cost ~2.0 M instructions; as one text per row, ~1.6 M with the split
 * (callgrind, the bench's 1,000,000-row database). No column but the name can hold a NUL: ids,
 * types, timestamps and key ids are the server's, params and checks are JSON texts (JSON.stringify
 * writes a NUL as \u0000), sealed secrets are base64url; a name (validation refuses a NUL in it, a
 * row from elsewhere might not) is everything after the last separator. SQLite only: PostgreSQL's
 * text cannot hold a NUL, and its pages are read the usual way.
 *
 * Joined by one concat_ws (SQLite 3.44+; better-sqlite3 bundles its own) rather than a chain of
 * nineteen `||`: each `||` made a new text of everything joined so far, so a ~400-byte row was
 * copied ~10 times over (~15-20 % of the page statement's CPU in a walk, 3,000-page runs on the
 * bench's database). concat_ws leaves out NULL arguments, and none of these is NULL: the nullable
 * columns are coalesced, the others are NOT NULL; a NUL inside a value is kept as `||` kept it.
 */
const PACKED_CONNECTOR_COLUMNS = `concat_ws(char(0), ${[
  '"seq"',
  '"id"',
  '"type"',
  '"params"',
  `coalesce('+' || "secrets", '')`,
  `coalesce('+' || "secret_key_id", '')`,
  `coalesce('+' || "last_check", '')`,
  '"created_at"',
  '"updated_at"',
  '"name"',
].join(', ')})`;

/** A nullable field from `start` to `end`: null when empty, else the text after its '+' (PACKED_CONNECTOR_COLUMNS). */
const nullableField = (text: string, start: number, end: number): string | null =>
  end === start ? null : text.slice(start + 1, end);

/** Where the field that begins at `from` ends (the next NUL); throws where there is none. */
function fieldEnd(text: string, from: number): number {
  const end = text.indexOf('\u0000', from);
  if (end < 0) throw new Error('a packed connector row has fewer than 10 fields');
  return end;
}

/** A row of `accountId` from its packed text (PACKED_CONNECTOR_COLUMNS); throws for one with too few fields. */
export function unpackConnectorRow(text: string, accountId: number): ReadConnectorRow {
  const seqEnd = fieldEnd(text, 0);
  const idEnd = fieldEnd(text, seqEnd + 1);
  const typeEnd = fieldEnd(text, idEnd + 1);
  const paramsEnd = fieldEnd(text, typeEnd + 1);
  const secretsEnd = fieldEnd(text, paramsEnd + 1);
  const keyIdEnd = fieldEnd(text, secretsEnd + 1);
  const lastCheckEnd = fieldEnd(text, keyIdEnd + 1);
  const createdEnd = fieldEnd(text, lastCheckEnd + 1);
  const updatedEnd = fieldEnd(text, createdEnd + 1);
  return {
    id: text.slice(seqEnd + 1, idEnd),
    account_id: accountId,
    seq: Number(text.slice(0, seqEnd)),
    type: text.slice(idEnd + 1, typeEnd),
    name: text.slice(updatedEnd + 1),
    params: text.slice(typeEnd + 1, paramsEnd),
    secrets: nullableField(text, paramsEnd + 1, secretsEnd),
    secret_key_id: nullableField(text, secretsEnd + 1, keyIdEnd),
    last_check: nullableField(text, keyIdEnd + 1, lastCheckEnd),
    created_at: text.slice(lastCheckEnd + 1, createdEnd),
    updated_at: text.slice(createdEnd + 1, updatedEnd),
  };
}

/** A page kept (listNow) or read ahead (readAheadNow), with what tells which changes could touch it. */
interface KeptPage {
  /** The database's stamp read before the page (compiled.ts). */
  readonly stamp: string;
  readonly accountId: number;
  readonly connectors: readonly StoredConnector[];
  /** The seq of its last row (-Infinity for none): a change of a row after it cannot touch a full page. */
  readonly lastSeq: number;
  /** As many rows as asked for: the list goes on past it (or ends just there). */
  readonly full: boolean;
}

/** Pages kept by listNow, by account, offset and limit; past this many, all are dropped. */
const MAX_KEPT_PAGES = 128;
/** Pages read ahead (readAheadNow), each until its first listNow; past this many, all are dropped. */
const MAX_AHEAD_PAGES = 16;
/**
 * Connectors kept by getNow, by account and id; past this many, all are dropped. An entry is a
 * reference to the codec's frozen connector (whose view, ETag and bytes present.ts and fast-reads.ts
 * keep with it): a few KiB per connector kept. At 1,024 the bench's mix, GETs of 10,000 ids, kept
 * almost none (the map filled and was emptied every ~1,000 reads) and read, opened and made the
 * answer of nearly every GET again; at this bound an account of 10,000 connectors read by id stays
 * kept (+3-4 MiB of peak RSS in that mix, 42,000 requests).
 */
const MAX_KEPT_ONES = 16_384;
/**
 * And past this many bytes of them, by estimate (keptSize), all are dropped too: a connector's body
 * may be up to 64 KiB, and one kept holds its object, its views' JSON and bytes (a few times its
 * row), so 16,384 large ones would be gigabytes. The bench's rows (~180 characters) estimate ~2 KiB
 * each: 10,000 of them fit.
 */
const MAX_KEPT_BYTES = 32 * 1024 * 1024;
/** What keeping a connector read from `row` may cost, in bytes: its texts ~6 times over, plus ~1 KiB. */
const keptSize = (row: { readonly params: string; readonly secrets: string | null; readonly name: string }) =>
  1024 + 6 * (row.params.length + (row.secrets?.length ?? 0) + row.name.length);

/**
 * What getNow keeps, by place: at most `maxEntries` values and `maxBytes` of their sizes (as the
 * caller estimates them); one more and all are dropped (the next reads keep them again).
 */
export class KeptOnes<T> {
  #entries = new Map<string, { readonly value: T; readonly size: number }>();
  #bytes = 0;
  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}
  get size(): number {
    return this.#entries.size;
  }
  get bytes(): number {
    return this.#bytes;
  }
  get(place: string): T | undefined {
    return this.#entries.get(place)?.value;
  }
  delete(place: string): void {
    const gone = this.#entries.get(place);
    if (gone === undefined) return;
    this.#bytes -= gone.size;
    this.#entries.delete(place);
  }
  set(place: string, value: T, size: number): void {
    this.delete(place);
    if (this.#entries.size >= this.maxEntries || this.#bytes + size > this.maxBytes) {
      this.#entries = new Map();
      this.#bytes = 0;
    }
    this.#entries.set(place, { value, size });
    this.#bytes += size;
  }
}

export function createConnectorStore(
  db: Kysely<Database>,
  box: SecretBox,
  cursors = new PageCursors(),
  /** How writes get their transaction (DatabaseHandle.transact: grouped on SQLite). */
  transact: Transact = ownTransactions(db),
  /** PostgreSQL: notices of committed changes (DatabaseHandle.connectorChanges): reads are kept while they are heard. */
  changes?: ConnectorChanges,
  /** What getNow keeps at most (default MAX_KEPT_ONES connectors and MAX_KEPT_BYTES). */
  keep: { readonly ones: number; readonly bytes: number } = { ones: MAX_KEPT_ONES, bytes: MAX_KEPT_BYTES },
): ConnectorStore {
  const codec = connectorRowCodec(box);
  const cache = changes && new ConnectorCache(changes);
  const postgres = dialectOf(db) === 'postgres';
  const fromRow = codec.open;
  // The hot reads, compiled once (compiled.ts); the stand-ins are values no request sends.
  const byId = compiledOnce(
    db
      .selectFrom('connectors')
      .select(columns)
      .where('id', '=', '\u0000id')
      .where('account_id', '=', -1)
      .compile(),
    ['\u0000id', -1] as const,
  );
  const connectorsVersion = compiledOnce(connectorsVersionOf(db).compile(), [-1] as const);
  const pageFrom = (anchored: boolean) => {
    let query = db.selectFrom('connectors').select(columns).where('account_id', '=', -1);
    if (anchored) query = query.where('seq', '>', -2);
    return compiledOnce(
      query.orderBy('seq').limit(-3).offset(-4).compile(),
      anchored ? ([-1, -2, -3, -4] as const) : ([-1, -3, -4] as const),
    );
  };
  const page = pageFrom(false);
  const anchoredPage = pageFrom(true);
  /** The same pages, each row as one text (packedConnectorColumns): what readPageNow reads on SQLite. */
  const packedPageFrom = (anchored: boolean) => {
    let query = db
      .selectFrom('connectors')
      .select(sql<string>`${sql.raw(PACKED_CONNECTOR_COLUMNS)}`.as('packed'))
      .where('account_id', '=', -1);
    if (anchored) query = query.where('seq', '>', -2);
    return compiledOnce(
      query.orderBy('seq').limit(-3).offset(-4).compile(),
      anchored ? ([-1, -2, -3, -4] as const) : ([-1, -3, -4] as const),
    );
  };
  const packedPage = packedPageFrom(false);
  const packedAnchoredPage = packedPageFrom(true);
  // The hot writes' statements, compiled once too; on SQLite they run at once in a write group.
  const recordAudit = auditRecorder(db);
  const insertRow = compiledOnce(newRowOf(db).compile(), NEW_ROW_STAND_INS);
  const bumpVersion = compiledOnce(connectorsVersionBump(db, -1).compile(), [-1] as const);
  /** PostgreSQL's create in one statement: the row, its audit event and a shard of the account's version. */
  const createAtOnce = compiledOnce(
    newRowOf(
      asSchema(
        db
          .with('audit', (q) => auditInsertOfStandIns(asSchema(q)))
          .with('version', (q) => connectorsVersionShardBump(asSchema(q), -201, -202)),
      ),
    ).compile(),
    [...AUDIT_STAND_INS, -201, -202, ...NEW_ROW_STAND_INS] as const,
  );
  const createsAtOnce = compiledOnce(
    CompiledQuery.raw(
      CREATES_AT_ONCE,
      Array.from({ length: 22 }, (_, i) => `\u0000creates ${i}`),
    ),
    Array.from({ length: 22 }, (_, i) => `\u0000creates ${i}`),
  );
  /** One create alone: the row, its audit event and a shard of the account's version in one statement. */
  const createOne = async (audit: ReturnType<typeof auditValues>, row: ReadConnectorRow) => {
    await createAtOnce(db, ...audit, row.account_id, randomShard(), ...newRowValues(row));
  };
  /** Several creates in one statement; each alone again when PostgreSQL refused the statement. */
  const createGroup = async (group: readonly PendingCreate[]) => {
    if (group.length === 1) {
      const [only] = group as [PendingCreate];
      return createOne(only.audit, only.row).then(() => only.done(), only.done);
    }
    // In one order, by account and name, so that two statements with the same names wait for
    // each other instead of deadlocking (the unique name's index), and take shards in one order.
    const sorted = [...group].sort(
      (a, b) =>
        a.row.account_id - b.row.account_id ||
        (a.row.name < b.row.name ? -1 : a.row.name > b.row.name ? 1 : 0),
    );
    const columns: unknown[][] = Array.from({ length: 22 }, () => []);
    const counts = new Map<number, number>();
    for (const { audit, row } of sorted) {
      for (let i = 0; i < 10; i++) columns[i]?.push(audit[i]);
      const values = newRowValues(row);
      for (let i = 0; i < 9; i++) columns[13 + i]?.push(values[i]);
      counts.set(row.account_id, (counts.get(row.account_id) ?? 0) + 1);
    }
    for (const [accountId, count] of counts) {
      columns[10]?.push(accountId);
      columns[11]?.push(randomShard());
      columns[12]?.push(count);
    }
    try {
      await createsAtOnce(db, ...columns);
    } catch (error) {
      if (!refusedForARow(error)) {
        for (const pending of group) pending.done(error);
        return;
      }
      // One of them (a name taken) or a deadlock refused them all: nothing was written; each alone.
      await Promise.all(
        group.map((pending) =>
          createOne(pending.audit, pending.row).then(() => pending.done(), pending.done),
        ),
      );
      return;
    }
    for (const pending of group) pending.done();
  };
  const waiting: PendingCreate[] = [];
  const writeWaiting = () => {
    while (waiting.length > 0) {
      const group = waiting.splice(0, MAX_CREATE_GROUP);
      // createGroup answers each create; this only keeps a fault of its own from going unanswered.
      createGroup(group).catch((error: unknown) => {
        for (const pending of group) pending.done(error);
      });
    }
  };
  /** A create in the statement of those that arrive in this turn of the event loop. */
  const createSoon = (audit: ReturnType<typeof auditValues>, row: ReadConnectorRow) =>
    new Promise<void>((resolve, reject) => {
      if (waiting.length === 0) setImmediate(writeWaiting);
      waiting.push({ audit, row, done: (error) => (error === undefined ? resolve() : reject(error)) });
    });
  const rowForWrite = compiledOnce(
    forUpdate(
      db,
      db.selectFrom('connectors').select(columns).where('id', '=', '\u0000id').where('account_id', '=', -1),
    ).compile(),
    ['\u0000id', -1] as const,
  );
  /**
   * The UPDATE of a connector, one compiled statement per combination of what it sets beside
   * params, secrets and updated_at: the name and the secrets' key id only when they change, since
   * SQLite rewrites the entries of every index on a column set (the name's UNIQUE index, the key
   * id's), changed or not; the last check cleared when params changed.
   */
  const updateOf = (setName: boolean, setKeyId: boolean, clearCheck: boolean) => {
    const standIns = [
      ...(setName ? ['\u0000name'] : []),
      '\u0000params',
      '\u0000secrets',
      ...(setKeyId ? ['\u0000secret key id'] : []),
      '\u0000updated at',
      '\u0000id',
      -1,
    ];
    const update = compiledOnce(
      db
        .updateTable('connectors')
        .set({
          ...(setName ? { name: '\u0000name' } : {}),
          params: '\u0000params',
          secrets: '\u0000secrets',
          ...(setKeyId ? { secret_key_id: '\u0000secret key id' } : {}),
          updated_at: '\u0000updated at',
          ...(clearCheck ? { last_check: sql<null>`null` } : {}),
        })
        .where('id', '=', '\u0000id')
        .where('account_id', '=', -1)
        .compile(),
      standIns,
    );
    return (trx: Kysely<Database>, row: ReadConnectorRow) =>
      update(
        trx,
        ...(setName ? [row.name] : []),
        row.params,
        row.secrets,
        ...(setKeyId ? [row.secret_key_id] : []),
        row.updated_at,
        row.id,
        row.account_id,
      );
  };
  const updates = new Map<number, ReturnType<typeof updateOf>>();
  /** The UPDATE that writes `row` over `current`. */
  const updateRow = (current: ReadConnectorRow, row: ReadConnectorRow) => {
    const setName = row.name !== current.name;
    const setKeyId = row.secret_key_id !== current.secret_key_id;
    const clearCheck = row.last_check === null && current.last_check !== null;
    const which = (setName ? 1 : 0) | (setKeyId ? 2 : 0) | (clearCheck ? 4 : 0);
    let update = updates.get(which);
    if (update === undefined) {
      update = updateOf(setName, setKeyId, clearCheck);
      updates.set(which, update);
    }
    return update;
  };
  /**
   * Pages listNow read, with the database's stamp read before them (compiled.ts): while the stamp
   * is the same, no other connection committed since (another process, another thread), and each
   * change this connection made to a connector row since was reported (onOwnConnectorChange) and
   * dropped the pages it could touch (forgetChanged): the page is what reading it again would give.
   * Kept only when every connector of it is (frozen, connector-row.ts): a page of rows read once (a
   * walk) is that request's alone.
   */
  let keptPages = new Map<string, KeptPage>();
  /**
   * Connectors getNow read, with the database's stamp of the snapshot they were read in (one
   * statement: nowStamped), as keptPages (a change of the row drops it). A kept one costs a stamp
   * (`pragma data_version`, a read transaction of its own, ~5 µs); one not kept the row with its
   * stamp (~10 µs, where the stamp and then the row were ~14). Kept from the first read (openKept):
   * frozen, as pages' connectors are.
   */
  const keptOnes = new KeptOnes<{ readonly stamp: string; readonly connector: StoredConnector }>(
    keep.ones,
    keep.bytes,
  );
  /**
   * Pages read ahead of a walk (readAheadNow), with the stamp read before them: taken by the first
   * listNow of the page, which gives them only while the stamp is the same (and no change of this
   * connection dropped them). Held for one request at most, so rows read once (not frozen) may be
   * among them.
   */
  let aheadPages = new Map<string, KeptPage>();
  /**
   * The connector row (accountId, id, seq) was inserted, updated or deleted by this connection
   * (reported inside the statement, before it commits or rolls back): drops the kept connector and
   * every kept page of the account it could change. A page lists the account's rows in seq order
   * from `offset`; a change of a row after the page's last one changes none of its places, provided
   * the page was full (a page that reached the end of the list gains the rows added after it). An
   * update reports its row, so a page holding it is dropped; creates in a full page's account add
   * rows after it (new seqs are larger) and keep it.
   */
  const forgetChanged = (accountId: number, id: string, seq: number): void => {
    keptOnes.delete(`${accountId}:${id}`);
    for (const pages of [keptPages, aheadPages]) {
      for (const [place, kept] of pages) {
        if (kept.accountId === accountId && !(kept.full && seq > kept.lastSeq)) pages.delete(place);
      }
    }
  };
  /**
   * Whether this connection reports its own changes (SQLite): only then is anything kept with the
   * stamp, which its own writes do not move.
   */
  const ownChangesReported = !postgres && onOwnConnectorChange(db, forgetChanged);
  const stampOf = (): string | undefined => (ownChangesReported ? stampNow(db) : undefined);

  /**
   * A page read now, as list reads it, with its last row's seq and whether it was full (as many
   * rows as asked for); null where it cannot be read at once or needs new cursor marks.
   */
  function readPageNow(
    accountId: number,
    offset: number,
    limit: number,
  ): Omit<KeptPage, 'stamp' | 'accountId'> | null {
    // As list, each read at once or none: the version first, then the rows.
    const accounts = connectorsVersion.now(db, accountId);
    if (!accounts) return null;
    const [account] = accounts;
    if (!account) return { connectors: Object.freeze([]), lastSeq: Number.NEGATIVE_INFINITY, full: false };
    const version = Number(account.connectors_version);
    if (cursors.wantsMarks(accountId, version, offset)) return null;
    const anchor = cursors.nearest(accountId, version, offset);
    const skip = anchor ? offset - anchor.position - 1 : offset;
    const packed = anchor
      ? packedAnchoredPage.nowFirstColumn(db, accountId, anchor.seq, limit, skip)
      : packedPage.nowFirstColumn(db, accountId, limit, skip);
    if (!packed) return null;
    const rows = packed.map((text) => unpackConnectorRow(text, accountId));
    const last = rows[rows.length - 1];
    if (last) cursors.rememberPageEnd(accountId, version, offset + rows.length - 1, last.seq);
    return {
      connectors: Object.freeze(rows.map(fromRow)),
      lastSeq: last ? Number(last.seq) : Number.NEGATIVE_INFINITY,
      full: rows.length >= limit,
    };
  }

  return {
    async create(accountId, actor, fields, within) {
      const now = nowIso();
      const id = newTimeOrderedId();
      const parts = codec.sealParts(id, fields.type, fields.params);
      const row: ReadConnectorRow = {
        id,
        account_id: accountId,
        // Numbered by the database; nothing made of the new connector reads it (see `written`).
        seq: 0,
        type: fields.type.id,
        name: fields.name,
        ...parts.columns,
        last_check: null,
        created_at: now,
        updated_at: now,
      };
      const audit = {
        accountId,
        actor,
        action: 'create',
        connector: { id, name: fields.name, type: fields.type.id },
        fields: ['type', ...changedFields(undefined, fields)],
      } as const;
      if (!within && postgres) {
        // PostgreSQL: the row, its audit event and the account's version in one statement (data-
        // modifying CTEs), atomic on its own: one round trip instead of five (BEGIN, three
        // statements, COMMIT), and the account's row locked only for that statement's commit.
        // With the other creates of this turn of the event loop (createSoon): answered after the
        // statement that wrote them all committed.
        try {
          await createSoon(auditValues(audit), row);
          return codec.written(row, parts);
        } catch (error) {
          if (isConnectorNameTaken(error)) throw errors.nameTaken(fields.name);
          throw error;
        }
      }
      const work = async (trx: Kysely<Database>) => {
        await insertRow(trx, ...newRowValues(row));
        await recordAudit(trx, audit);
        // Last: it locks the account's row (on PostgreSQL a shard's) until the commit, and every
        // create and delete that takes the same row waits for that lock; the shorter it is held,
        // the more of them commit.
        if (postgres) await connectorsVersionShardBump(trx, accountId, randomShard()).execute();
        else await bumpVersion(trx, accountId);
        return codec.written(row, parts);
      };
      try {
        return await (within ? work(within) : transact(work));
      } catch (error) {
        if (isConnectorNameTaken(error)) throw errors.nameTaken(fields.name);
        throw error;
      }
    },

    async get(accountId, id) {
      if (cannotExist(id)) return undefined;
      if (!cache) {
        const [row] = (await byId(db, id, accountId)).rows;
        return row && fromRow(row);
      }
      // Kept from the first read: the next GET of it is answered at once (fast-reads.ts); reads of
      // it meanwhile share this one.
      return cache.read(accountId, id, async () => {
        const [row] = (await byId(db, id, accountId)).rows;
        return row && codec.openKept(row);
      });
    },

    getNow(accountId, id) {
      if (cannotExist(id)) return undefined;
      if (cache) return cache.lookup(accountId, id);
      if (!ownChangesReported) {
        const rows = byId.now(db, id, accountId);
        if (!rows) return null;
        const [row] = rows;
        return row && fromRow(row);
      }
      const place = `${accountId}:${id}`;
      const kept = keptOnes.get(place);
      // Kept: the stamp alone tells whether it is still what a read would give.
      if (kept !== undefined && kept.stamp === stampOf()) return kept.connector;
      // Not kept (or no longer): the row and the stamp of its snapshot, in one read.
      const read = byId.nowStamped(db, id, accountId);
      if (!read) return null;
      const [row] = read.rows;
      if (!row) return undefined;
      // Kept from the first read (a GET of one connector asks for it again, unlike a walk's rows),
      // so that the next read of it is answered without the database, and its view, ETag and JSON
      // made once (present.ts).
      const connector = codec.openKept(row);
      const { stamp } = read;
      if (stamp !== undefined && Object.isFrozen(connector)) {
        keptOnes.set(place, { stamp, connector }, keptSize(row));
      }
      return connector;
    },

    async getByName(accountId, name) {
      if (cannotExist(name)) return undefined;
      const row = await db
        .selectFrom('connectors')
        .select(columns)
        .where('account_id', '=', accountId)
        .where('name', '=', name)
        .executeTakeFirst();
      return row && fromRow(row);
    },

    async list(accountId, offset, limit) {
      // Read before the rows (see page-cursors.ts): anchors are never labelled newer than their rows.
      const [account] = (await connectorsVersion(db, accountId)).rows;
      if (!account) return [];
      const version = Number(account.connectors_version);
      if (cursors.wantsMarks(accountId, version, offset)) {
        await cursors.extendMarks(db, accountId, version, offset);
      }
      const anchor = cursors.nearest(accountId, version, offset);
      const skip = anchor ? offset - anchor.position - 1 : offset;
      const { rows } = anchor
        ? await anchoredPage(db, accountId, anchor.seq, limit, skip)
        : await page(db, accountId, limit, skip);
      const last = rows[rows.length - 1];
      if (last) cursors.rememberPageEnd(accountId, version, offset + rows.length - 1, last.seq);
      return rows.map(fromRow);
    },

    listNow(accountId, offset, limit) {
      const stamp = stampOf();
      const place = `${accountId}:${offset}:${limit}`;
      if (stamp !== undefined) {
        const kept = keptPages.get(place);
        if (kept?.stamp === stamp) return kept.connectors;
      }
      const ahead = aheadPages.get(place);
      if (ahead) aheadPages.delete(place);
      const read =
        stamp !== undefined && ahead?.stamp === stamp ? ahead : readPageNow(accountId, offset, limit);
      if (!read) return null;
      const { connectors } = read;
      if (stamp !== undefined && connectors.every((connector) => Object.isFrozen(connector))) {
        if (keptPages.size >= MAX_KEPT_PAGES) keptPages = new Map();
        keptPages.set(place, { ...read, stamp, accountId });
      }
      return connectors;
    },

    readAheadNow(accountId, offset, limit) {
      const stamp = stampOf();
      if (stamp === undefined) return null;
      const place = `${accountId}:${offset}:${limit}`;
      const known = keptPages.get(place) ?? aheadPages.get(place);
      if (known?.stamp === stamp) return known.connectors;
      const read = readPageNow(accountId, offset, limit);
      if (!read) return null;
      if (aheadPages.size >= MAX_AHEAD_PAGES) aheadPages = new Map();
      aheadPages.set(place, { ...read, stamp, accountId });
      return read.connectors;
    },

    async update(accountId, actor, id, change) {
      if (cannotExist(id)) return undefined;
      let name = '';
      try {
        return await transact(async (trx) => {
          const [currentRow] = (await rowForWrite(trx, id, accountId)).rows;
          if (!currentRow) return undefined;
          const current = fromRow(currentRow);
          const fields = change(current);
          name = fields.name;
          const changed = changedFields(current, fields);
          const parts = codec.sealParts(id, current.type, fields.params);
          // A check of other params (a URL, a credential) says nothing about these: a rename keeps it.
          const clearCheck = changed.some((field) => field.startsWith('params.'));
          const row: ReadConnectorRow = {
            ...currentRow,
            name: fields.name,
            ...parts.columns,
            updated_at: laterThan(current.updatedAt),
            last_check: clearCheck ? null : currentRow.last_check,
          };
          await updateRow(currentRow, row)(trx, row);
          await recordAudit(trx, {
            accountId,
            actor,
            action: 'update',
            connector: { id, name: fields.name, type: current.type.id },
            fields: changed,
          });
          return codec.written(row, parts);
        });
      } catch (error) {
        if (isConnectorNameTaken(error)) throw errors.nameTaken(name);
        throw error;
      } finally {
        // Committed (or in doubt): what this process keeps of it goes before the answer does.
        cache?.forget(accountId, id);
      }
    },

    async recordCheck(accountId, id, checked, result) {
      if (cannotExist(id)) return false;
      try {
        const outcome = await db
          .updateTable('connectors')
          .set({ last_check: JSON.stringify(result) })
          .where('id', '=', id)
          .where('account_id', '=', accountId)
          // Only on the version that was checked: a result for an old URL is not shown on a new one.
          .where('updated_at', '=', checked.updatedAt)
          .executeTakeFirst();
        return outcome.numUpdatedRows > 0n;
      } finally {
        cache?.forget(accountId, id);
      }
    },

    async delete(accountId, actor, id, precondition) {
      if (cannotExist(id)) return false;
      try {
        return await transact((trx) => deleteIn(trx, accountId, actor, id, precondition));
      } finally {
        cache?.forget(accountId, id);
      }
    },
  };

  async function deleteIn(
    trx: Kysely<Database>,
    accountId: number,
    actor: Actor,
    id: string,
    precondition: Precondition | undefined,
  ): Promise<boolean> {
    if (precondition) {
      const current = await rowById(trx, accountId, id, { forWrite: true });
      if (!current) return false;
      precondition(fromRow(current));
    }
    const row = await trx
      .deleteFrom('connectors')
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .returning(['name', 'type'])
      .executeTakeFirst();
    if (!row) return false;
    // Its pending deliveries are cancelled with it (their history stays until retention prunes it).
    await cancelDeliveriesOf(trx, id);
    await recordAuditEvent(trx, {
      accountId,
      actor,
      action: 'delete',
      connector: { id, name: row.name, type: row.type },
      fields: [],
    });
    // Last, as in create: the account's row stays locked until the commit.
    await bumpConnectorsVersion(trx, accountId);
    return true;
  }
}
