import type { Generated, Insertable, Selectable } from 'kysely';

/** The tables as Kysely sees them. Timestamps are ISO 8601 UTC strings. */
export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  connectors: ConnectorsTable;
  audit_events: AuditEventsTable;
  idempotency_keys: IdempotencyKeysTable;
  hash_keys: HashKeysTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  delivery_tickets: DeliveryTicketsTable;
  /** PostgreSQL only (migration 0009). */
  connectors_version_shards: ConnectorsVersionShardsTable;
}

/** Shards of an account's connectors version on PostgreSQL: the version is `accounts.connectors_version` plus their sum. */
export interface ConnectorsVersionShardsTable {
  account_id: number;
  shard: number;
  /** bigint: pg gives it as a string. */
  version: Generated<string>;
}

/** The secret that key hashes and fingerprints are keyed with, sealed with a master key (src/secrets/hash-key.ts). */
export interface HashKeysTable {
  id: string;
  sealed: string;
  master_key_id: string;
  created_at: string;
}

export interface IdempotencyKeysTable {
  account_id: number;
  /** The id of the API key that made the record; '' for a record made before records had one. */
  api_key_id: Generated<string>;
  key: string;
  /**
   * The request's fingerprint, keyed: `hmac:` and the HMAC of the SHA-256 of the canonical body
   * (src/secrets/hash-key.ts); the same key with another body is refused. Unkeyed (plain SHA-256
   * hex) in records made before, which the server rewrites keyed at start.
   */
  request_hash: string;
  state: 'running' | 'done';
  response_status: number | null;
  response: string | null;
  created_at: string;
}

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  created_at: string;
  /** Raised by every create and delete of one of the account's connectors (list positions move). */
  connectors_version: Generated<number>;
}

export type KeyRole = 'read' | 'write';

export interface ApiKeysTable {
  id: string;
  account_id: number;
  role: KeyRole;
  label: string;
  /**
   * The key's hash, keyed: `hmac:` and the HMAC of the key's SHA-256 (src/secrets/hash-key.ts). The
   * key itself is never stored. Unkeyed (plain SHA-256 hex) in rows made before, which the server
   * rewrites keyed at start and at a key's next use.
   */
  key_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  expires_at: string | null;
}

export interface ConnectorsTable {
  /** Creation order: the order of lists and pages. */
  seq: Generated<number>;
  id: string;
  account_id: number;
  type: string;
  name: string;
  /** The non-secret params as JSON text. */
  params: string;
  /** The secret params as one sealed JSON object (see src/secrets/cipher.ts); null when there are none. */
  secrets: string | null;
  /** Id of the master key that sealed `secrets`. */
  secret_key_id: string | null;
  /** The last credential check, JSON; null before the first. */
  last_check: string | null;
  created_at: string;
  updated_at: string;
}

export type AuditAction = 'create' | 'update' | 'delete';

export interface AuditEventsTable {
  /** Order of the trail. */
  seq: Generated<number>;
  id: string;
  account_id: number;
  at: string;
  action: AuditAction;
  connector_id: string;
  connector_name: string;
  connector_type: string;
  key_id: string;
  key_label: string;
  /** JSON array of the names of the fields that changed (`name`, `params.url`, …); never values. */
  fields: string;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ConnectorRow = Selectable<ConnectorsTable>;
export type NewConnectorRow = Insertable<ConnectorsTable>;

/** A delivery's states, in the order of its life (the API's enum, the CLI's --state). */
export const DELIVERY_STATES = ['queued', 'sending', 'retrying', 'delivered', 'failed', 'cancelled'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** One event accepted for a connector (migration 0007). */
export interface DeliveriesTable {
  /** Acceptance order: lists (newest first) and claims (oldest first). */
  seq: Generated<number>;
  id: string;
  account_id: number;
  connector_id: string;
  connector_type: string;
  /** The event, JSON. */
  event: string;
  /** The per-type options, JSON. */
  options: string;
  /** event.alertKey: deliveries of one (connector, alertKey) are sent one at a time, in order. */
  alert_key: string | null;
  state: DeliveryState;
  attempt_count: Generated<number>;
  /** When the next attempt may start; null once finished. */
  next_attempt_at: string | null;
  /** The worker (one per server process) that holds the delivery while `sending`, and until when. */
  lease_owner: string | null;
  lease_until: string | null;
  /** What the target made (`{id, url}`), JSON. */
  external_ref: string | null;
  created_at: string;
  updated_at: string;
  /** When it became delivered, failed or cancelled: retention counts from here. */
  finished_at: string | null;
}

export type AttemptOutcome = 'delivered' | 'retry' | 'failed' | 'interrupted';

export interface DeliveryAttemptsTable {
  delivery_id: string;
  /** 1, 2, ... */
  number: number;
  started_at: string;
  duration_ms: number;
  http_status: number | null;
  outcome: AttemptOutcome;
  /** What the target said, redacted of every credential the attempt sent. */
  message: string;
}

/** The ticket of one (connector, alertKey) at a ticket target. */
export interface DeliveryTicketsTable {
  connector_id: string;
  alert_key: string;
  account_id: number;
  ticket_id: string;
  url: string | null;
  /** 1 open, 0 closed. */
  open: number;
  updated_at: string;
}

export type DeliveryRow = Selectable<DeliveriesTable>;
export type AttemptRow = Selectable<DeliveryAttemptsTable>;
