import type { Generated, Insertable, Selectable } from 'kysely';

/** The tables as Kysely sees them. Timestamps are ISO 8601 UTC strings. */
export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  connectors: ConnectorsTable;
}

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  created_at: string;
}

export type KeyRole = 'read' | 'write';

export interface ApiKeysTable {
  id: string;
  account_id: number;
  role: KeyRole;
  label: string;
  /** SHA-256 of the key, hex. The key itself is never stored. */
  key_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ConnectorsTable {
  /** Creation order: the order of lists and pages. */
  seq: Generated<number>;
  id: string;
  account_id: number;
  type: string;
  name: string;
  /** The params object as JSON text. */
  params: string;
  created_at: string;
  updated_at: string;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ConnectorRow = Selectable<ConnectorsTable>;
export type NewConnectorRow = Insertable<ConnectorsTable>;
