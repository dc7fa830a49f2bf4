import type { KeyringSource } from '../../secrets/keyring.js';

/**
 * `plugboard copy`: one database's accounts, API keys (and the hash key they are keyed with),
 * connectors and audit trail into another (SQLite to PostgreSQL above all, but any direction), as
 * an exact copy: every column, the same ids and sequence numbers, sealed secrets and the sealed
 * hash key byte for byte (they stay valid: their authenticated data is the connector's id and
 * type, which do not change, or a fixed label).
 *
 * Idempotency keys are not copied: they only matter for 24 hours, and a replayed response is
 * sealed like a secret, which is not worth carrying across a move.
 *
 * The copy in its parts: what is copied and reported (this file); plan.ts, everything that must
 * hold before a row is written; run.ts, the copy itself; verify.ts, the comparison afterwards;
 * rows.ts, reading and comparing rows of any table.
 */

/** The tables copied, in an order that satisfies their foreign keys (everything references accounts). */
export const COPIED_TABLES = ['accounts', 'api_keys', 'connectors', 'audit_events', 'hash_keys'] as const;
export type CopiedTable = (typeof COPIED_TABLES)[number];

export interface TableSpec {
  readonly table: CopiedTable;
  /** The primary key: batches are read in its order, and a rerun resumes after the target's largest. */
  readonly key: string;
  /** A text key, ordered byte-wise on both backends (see keyOf). */
  readonly textKey: boolean;
  /** A serial key on PostgreSQL, whose sequence must be moved past the copied rows. */
  readonly serial: boolean;
  /** Counted per account in the verification. */
  readonly perAccount: boolean;
  /**
   * The columns that say which row it is, beside the key. A target row that agrees with the
   * source's on these is the same row, copied earlier (its other columns may have changed in the
   * source since: it is refreshed); one that does not is other data, and the copy is refused.
   */
  readonly identity: readonly string[];
}

export const TABLES: readonly TableSpec[] = [
  {
    table: 'accounts',
    key: 'id',
    textKey: false,
    serial: true,
    perAccount: false,
    identity: ['name', 'created_at'],
  },
  {
    table: 'api_keys',
    key: 'id',
    textKey: true,
    serial: false,
    perAccount: true,
    identity: ['account_id', 'key_hash', 'created_at'],
  },
  {
    table: 'connectors',
    key: 'seq',
    textKey: false,
    serial: true,
    perAccount: true,
    identity: ['id', 'account_id', 'type', 'created_at'],
  },
  {
    table: 'audit_events',
    key: 'seq',
    textKey: false,
    serial: true,
    perAccount: true,
    identity: ['id', 'account_id', 'at'],
  },
  {
    // The key the API key hashes are keyed with, sealed as stored: without it no copied key works.
    table: 'hash_keys',
    key: 'id',
    textKey: true,
    serial: false,
    perAccount: false,
    identity: ['created_at'],
  },
];

export interface CopyProgress {
  /** `check`: comparing what the target already holds; `copy`; `verify`: comparing both afterwards. */
  readonly phase: 'check' | 'copy' | 'verify';
  readonly table: CopiedTable;
  /** Source rows dealt with so far (in `copy`, those a resumed run found in place included). */
  readonly done: number;
  readonly total: number;
  /** Rows this run inserted into the target so far (`copy`). */
  readonly copied: number;
}

export interface CopyOptions {
  /** Rows per batch; each batch is one transaction in the target. */
  readonly batchSize?: number;
  /** Called as each table starts and after each batch; an exception stops the copy (it can be resumed). */
  readonly onProgress?: (progress: CopyProgress) => void;
  /** The source's master keys: checked before anything is copied, then every copied secret is opened with them. */
  readonly keyring?: KeyringSource;
  /**
   * Refresh rows copied earlier that now differ from the source (`--force`); unset, such a copy is
   * refused, naming the rows and columns that would change (plan.ts).
   */
  readonly force?: boolean;
}

export interface TableReport {
  readonly table: CopiedTable;
  readonly sourceRows: number;
  /** Rows the target held before this run (an interrupted earlier copy). */
  readonly alreadyThere: number;
  /** Rows this run inserted. */
  readonly copied: number;
  /** Rows copied by an earlier run that had changed in the source since, updated by this run. */
  readonly refreshed: number;
  readonly targetRows: number;
  /** Source rows found in the target with every column equal. */
  readonly identical: number;
}

export interface CountCheck {
  readonly table: CopiedTable;
  /** Unset: the whole table. */
  readonly account?: { readonly id: number; readonly name: string };
  readonly source: number;
  readonly target: number;
}

export interface SecretsCheck {
  /** Connectors in the target whose sealed secrets opened under the source's keys. */
  readonly opened: number;
  /** Ids of those that did not (at most a few). */
  readonly failed: readonly string[];
  readonly failedCount: number;
}

export interface MigrationsApplied {
  readonly source: readonly string[];
  readonly target: readonly string[];
}

export interface CopyReport {
  readonly migrated: MigrationsApplied;
  readonly tables: readonly TableReport[];
  readonly counts: readonly CountCheck[];
  /** Unset when no keyring was given. */
  readonly secrets: SecretsCheck | undefined;
  /** PostgreSQL sequences moved past the copied rows (`accounts.id`, …); empty for a SQLite target. */
  readonly sequencesReset: readonly string[];
  /** What makes the target differ from the source; empty when the copy is verified. */
  readonly problems: readonly string[];
  readonly elapsedMs: number;
}

/** At most this many examples of one kind of problem are listed. */
export const MAX_LISTED = 5;
