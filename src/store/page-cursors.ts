import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';

/**
 * Where pages of an account's connector list begin, so that a page at any `start-index` costs
 * about as much as the first.
 *
 * The spec pages by offset, and `OFFSET n` walks n rows (at 900,000 rows: 30 ms on SQLite here,
 * 120 times the first page). Rows are in creation order (`seq`), so a known "the row at position p
 * has seq s" turns the page at offset p+1+k into `seq > s … OFFSET k`. Two kinds of anchors:
 *
 * - where earlier pages ended: a client walking 0, 100, 200, … finds the previous page's last row
 *   at position offset-1 and the next page is a pure keyset query (O(page));
 * - a mark every STRIDE positions, extended lazily up to the deepest page asked for, by one
 *   recursive query that hops STRIDE rows at a time along the (account_id, seq) index (no table
 *   rows read): a random jump then walks at most STRIDE index entries.
 *
 * Positions move only when a connector of the account is created or deleted; both raise
 * `accounts.connectors_version` in their transaction (migration 0004). Anchors are kept per
 * version and dropped when it moves, so a server also sees other servers' writes. The version is
 * read before the rows: anchors are then never labelled newer than the rows they came from.
 */
export const STRIDE = 1_000;
/** Anchors kept per account from ended pages (a few concurrent walkers each). */
const MAX_PAGE_ENDS = 64;
/** Accounts whose anchors are kept (least recently used dropped first). */
const MAX_ACCOUNTS = 1_000;

interface AccountAnchors {
  readonly version: number;
  /** position → seq of the row at that position: the last rows of pages served. */
  readonly pageEnds: Map<number, number>;
  /** marks[k] = seq of the row at position k * STRIDE. */
  readonly marks: number[];
  /** The marks reach the end of the list: there is no row at position marks.length * STRIDE. */
  marksComplete: boolean;
}

/** A row known to be at `position`, with its seq. */
export interface Anchor {
  readonly position: number;
  readonly seq: number;
}

export class PageCursors {
  private readonly accounts = new Map<number, AccountAnchors>();

  constructor(
    private readonly maxAccounts = MAX_ACCOUNTS,
    private readonly stride = STRIDE,
  ) {}

  private entry(accountId: number, version: number): AccountAnchors {
    let entry = this.accounts.get(accountId);
    // A request that read an older version than the one kept (it raced a write) works on a
    // throw-away entry: replacing the newer one would make anchors thrash during write bursts.
    if (entry && version < entry.version)
      return { version, pageEnds: new Map(), marks: [], marksComplete: false };
    if (entry?.version !== version) {
      entry = { version, pageEnds: new Map(), marks: [], marksComplete: false };
    }
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.accounts.delete(accountId);
    this.accounts.set(accountId, entry);
    if (this.accounts.size > this.maxAccounts) {
      const oldest = this.accounts.keys().next().value;
      if (oldest !== undefined) this.accounts.delete(oldest);
    }
    return entry;
  }

  /** The known row closest before `offset` (at a position below it), if any. */
  nearest(accountId: number, version: number, offset: number): Anchor | undefined {
    if (offset === 0) return undefined;
    const entry = this.entry(accountId, version);
    let best: Anchor | undefined;
    const exact = entry.pageEnds.get(offset - 1);
    if (exact !== undefined) return { position: offset - 1, seq: exact };
    const k = Math.min(Math.floor((offset - 1) / this.stride), entry.marks.length - 1);
    const mark = k >= 0 ? entry.marks[k] : undefined;
    if (mark !== undefined) best = { position: k * this.stride, seq: mark };
    for (const [position, seq] of entry.pageEnds) {
      if (position < offset && position > (best?.position ?? -1)) best = { position, seq };
    }
    return best;
  }

  /**
   * Whether marks up to `offset` would help: it lies beyond a stride and beyond the marks, they do
   * not cover the list already, and no page ended just before it.
   */
  wantsMarks(accountId: number, version: number, offset: number): boolean {
    // Up to one stride, plain OFFSET is as cheap as anything.
    if (offset <= this.stride) return false;
    const entry = this.entry(accountId, version);
    // A walk: the page before ended just before this one, which starts from its last row.
    if (entry.pageEnds.has(offset - 1)) return false;
    return !entry.marksComplete && Math.floor((offset - 1) / this.stride) >= entry.marks.length;
  }

  /** Remembers the last row of a page served. */
  rememberPageEnd(accountId: number, version: number, position: number, seq: number): void {
    const entry = this.entry(accountId, version);
    entry.pageEnds.delete(position);
    entry.pageEnds.set(position, seq);
    if (entry.pageEnds.size > MAX_PAGE_ENDS) {
      const oldest = entry.pageEnds.keys().next().value;
      if (oldest !== undefined) entry.pageEnds.delete(oldest);
    }
  }

  /**
   * Extends the account's marks to cover `offset`, reading only the (account_id, seq) index: one
   * recursive query whose every step skips STRIDE entries from the previous mark.
   */
  async extendMarks(db: Kysely<Database>, accountId: number, version: number, offset: number): Promise<void> {
    const entry = this.entry(accountId, version);
    const target = Math.floor((offset - 1) / this.stride);
    if (entry.marksComplete || target < entry.marks.length) return;
    const from = entry.marks.length;
    const account = sql.lit(accountId);
    const skip = sql.lit(this.stride - 1);
    // The first step starts at the list's first row, or after the last mark known.
    const start =
      from === 0
        ? sql`select 0 as k, (select seq from connectors where account_id = ${account} order by seq limit 1) as seq`
        : sql`select ${sql.lit(from - 1)} as k, ${sql.lit(entry.marks[from - 1])} as seq`;
    const { rows } = await sql<{ k: number; seq: number }>`
      with recursive m(k, seq) as (
        ${start}
        union all
        select m.k + 1, (
          select c.seq from connectors c
          where c.account_id = ${account} and c.seq > m.seq
          order by c.seq limit 1 offset ${skip}
        )
        from m where m.seq is not null and m.k < ${sql.lit(target)}
      )
      select k, seq from m where k >= ${sql.lit(from)} order by k`.execute(db);
    if (this.accounts.get(accountId) !== entry) return; // the version moved meanwhile
    // A concurrent request may have extended the marks meanwhile: take what goes beyond them.
    for (const row of rows) {
      if (row.k < entry.marks.length) continue;
      if (row.k !== entry.marks.length) break;
      if (row.seq === null) {
        entry.marksComplete = true;
        break;
      }
      entry.marks.push(Number(row.seq));
    }
    if (rows.length > 0 && entry.marks.length <= target) entry.marksComplete = true;
  }
}
