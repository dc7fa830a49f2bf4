import type { ConnectorChanges } from './connector-changes.js';
import type { StoredConnector } from './connector-row.js';

/** Connectors kept at most; past this many, all are dropped (a few KiB each, like the codec's). */
const MAX_KEPT = 10_000;
/** Changes remembered by key at most; past this many, every read in flight is refused instead. */
const MAX_REMEMBERED = 10_000;
/**
 * How long after a read of a connector began another read of it may share it (ConnectorCache.read):
 * a query of one connector answers in about a millisecond, and a herd of requests for it arrives
 * within a few.
 */
export const JOIN_WITHIN_MS = 100;

/** A moment in the cache's history, taken before a read: a read may be kept only if nothing it could miss changed since. */
export type Ticket = number;

/**
 * The connectors a PostgreSQL store read, kept by account and id, for reads answered at once
 * (ConnectorStore.getNow, which src/http/fast-reads.ts answers GET /api/connectors/{id} with),
 * kept right by PostgreSQL's notices of every committed change (connector-changes.ts, migration
 * 0008):
 *
 * - a connector is kept only while the notices are listened to, and only from a read begun after
 *   listening began and after the last change to it this process heard of (the ticket): a read
 *   whose snapshot predates a change may answer after that change's notice arrived;
 * - a notice of a change drops it; a doubt about the notices (the connection failed, reconnected,
 *   a truncate) drops everything; this process's own writes drop what they changed as soon as they
 *   commit, before they answer.
 *
 * So a GET on this process sees this process's acknowledged writes at once, and another process's
 * once its notice has arrived: on an idle machine well under a millisecond after the commit; on a
 * busy 2-core machine shared with PostgreSQL a median of 4-6 ms and up to ~140 ms after the
 * writer's answer (README's "PostgreSQL and several instances"); and at most until the heartbeat
 * finds a silent connection, about 5 s plus the query timeout.
 */
export class ConnectorCache {
  #kept = new Map<string, StoredConnector>();
  /** The last moment each connector was changed, by key (only the recent ones matter). */
  #changedAt = new Map<string, number>();
  /** The last moment everything may have changed. */
  #allChangedAt = 0;
  #now = 0;
  /** Reads of one connector in flight (read), by key, each with the ticket taken before it and when it began. */
  #reading = new Map<
    string,
    {
      readonly ticket: Ticket;
      readonly began: number;
      readonly connector: Promise<StoredConnector | undefined>;
    }
  >();
  readonly #changes: ConnectorChanges;
  readonly #clock: () => number;

  constructor(changes: ConnectorChanges, clock: () => number = () => performance.now()) {
    this.#changes = changes;
    this.#clock = clock;
    changes.watch({
      changed: (accountId, id) => this.forget(accountId, id),
      changedAll: () => this.forgetAll(),
    });
  }

  /** The connector kept for this account and id, or null: then the database must be asked. */
  lookup(accountId: number, id: string): StoredConnector | null {
    if (!this.#changes.listening) return null;
    return this.#kept.get(keyOf(accountId, id)) ?? null;
  }

  /** Taken before a read whose result may be kept; starts listening on first use. */
  ticket(): Ticket {
    this.#changes.start();
    return this.#now;
  }

  /**
   * Keeps what a read begun at `ticket` found, if nothing that read could have missed changed
   * since. Only a frozen connector (the codec's, shared between requests) is kept: the one a
   * request may not change. Nothing found keeps nothing (a miss is asked again).
   */
  keep(ticket: Ticket, accountId: number, id: string, connector: StoredConnector | undefined): void {
    if (!connector || !Object.isFrozen(connector) || !this.#changes.listening) return;
    const key = keyOf(accountId, id);
    if (!this.#current(ticket, key)) return;
    if (this.#kept.size >= MAX_KEPT) this.#kept.clear();
    this.#kept.set(key, connector);
  }

  /**
   * A read of one connector from the database (`load`), kept as `keep` keeps it; or, when a read of
   * the same connector is in flight and nothing it could miss changed since it began (the test
   * `keep` applies to its result), that read's result. Many requests for a connector not kept yet
   * (a fresh process, a connector just changed, many clients after the same one) cost one query
   * instead of one each: the throughput bench's 50 clients asked for each of 500 connectors at
   * about the same moment, each missed the cache and queried PostgreSQL, and ~25 % of GET one's
   * requests in its measured seconds were such queries (issue 15). Sharing is as current as
   * keeping: a change this process made (forget, before its write is answered) or heard of after the
   * shared read began makes a new read; so does not listening (nothing is heard then). Only a read
   * begun less than JOIN_WITHIN_MS ago is joined: one that hangs (a dead connection, a lock) holds
   * up only the reads of its first moments, and later ones query for themselves. A joined read
   * that found nothing is no answer for the reads that joined it: each reads again (ids are made
   * by the server, so a read of one not yet created is a guess, but it must not be told 404 by an
   * older read).
   */
  read(
    accountId: number,
    id: string,
    load: () => Promise<StoredConnector | undefined>,
  ): Promise<StoredConnector | undefined> {
    const key = keyOf(accountId, id);
    const inFlight = this.#reading.get(key);
    if (
      inFlight &&
      this.#changes.listening &&
      this.#current(inFlight.ticket, key) &&
      this.#clock() - inFlight.began < JOIN_WITHIN_MS
    )
      // Each on its own query, at once: joining again would queue them one query after another.
      return inFlight.connector.then((found) => found ?? this.#load(this.ticket(), accountId, id, load));
    const ticket = this.ticket();
    const began = this.#clock();
    const connector = this.#load(ticket, accountId, id, load);
    const entry = { ticket, began, connector };
    this.#reading.set(key, entry);
    const settled = () => {
      if (this.#reading.get(key) === entry) this.#reading.delete(key);
    };
    connector.then(settled, settled);
    return connector;
  }

  /** `load`, its result kept as `keep` keeps it (`ticket` taken just before). */
  #load(
    ticket: Ticket,
    accountId: number,
    id: string,
    load: () => Promise<StoredConnector | undefined>,
  ): Promise<StoredConnector | undefined> {
    return load().then((found) => {
      this.keep(ticket, accountId, id, found);
      return found;
    });
  }

  /** Whether a read begun at `ticket` could have missed no change of this key (nothing changed since). */
  #current(ticket: Ticket, key: string): boolean {
    return ticket >= this.#allChangedAt && ticket >= (this.#changedAt.get(key) ?? 0);
  }

  /** This connector changed (committed): drop it, and refuse reads of it begun before now. */
  forget(accountId: number, id: string): void {
    const key = keyOf(accountId, id);
    this.#kept.delete(key);
    this.#now++;
    if (this.#changedAt.size >= MAX_REMEMBERED) {
      this.#changedAt.clear();
      this.#allChangedAt = this.#now;
    } else this.#changedAt.set(key, this.#now);
  }

  /** Anything may have changed: drop everything, and refuse every read begun before now. */
  forgetAll(): void {
    this.#kept.clear();
    this.#changedAt.clear();
    this.#allChangedAt = ++this.#now;
  }
}

/** Tenancy: the account is part of the key (an id read through another account is another entry). */
function keyOf(accountId: number, id: string): string {
  return `${accountId}:${id}`;
}
