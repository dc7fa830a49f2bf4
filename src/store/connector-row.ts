import type { CheckResult } from '../connectors/checks/run.js';
import type { Params } from '../connectors/checks/types.js';
import { type RegisteredType, storedConnectorType } from '../connectors/registry.js';
import { joinSecrets, splitSecrets } from '../connectors/secrets.js';
import { DecryptionError } from '../secrets/cipher.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { ConnectorRow } from './schema.js';

/** A connector as the store gives it out: its type resolved, its secrets opened. */
export interface StoredConnector {
  readonly id: string;
  readonly type: RegisteredType;
  readonly name: string;
  /** Every param, secrets opened. */
  readonly params: Params;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The last credential check, if there was one. */
  readonly lastCheck?: CheckResult;
}

/** The columns a connector is read with. */
export const connectorColumns = [
  'id',
  'account_id',
  'seq',
  'type',
  'name',
  'params',
  'secrets',
  'secret_key_id',
  'last_check',
  'created_at',
  'updated_at',
] as const;

export type ReadConnectorRow = Pick<ConnectorRow, (typeof connectorColumns)[number]>;

/** The columns that hold a connector's params: the plain ones in clear, the secret ones sealed. */
export type ParamColumns = Pick<ConnectorRow, 'params' | 'secrets' | 'secret_key_id'>;

/**
 * Connector rows in and out: the type's secret params sealed together (bound to the connector's id
 * and type) beside the plain ones on the way in; on the way out the type resolved, once, and the
 * secrets opened. Nothing else sees ciphertext.
 */
export interface ConnectorRowCodec {
  seal(id: string, type: RegisteredType, params: Params): ParamColumns;
  /** Throws UnknownConnectorTypeError for a type no longer registered, DecryptionError for secrets no key opens. */
  open(row: ReadConnectorRow): StoredConnector;
}

/** How many opened connectors a codec keeps (a few KiB each); past that the oldest go. */
const MAX_OPENED = 10_000;

/** Whether two reads of a row hold the same content: then they open to the same connector. */
function sameContent(a: ReadConnectorRow, b: ReadConnectorRow): boolean {
  return (
    a.updated_at === b.updated_at &&
    a.last_check === b.last_check &&
    a.name === b.name &&
    a.params === b.params &&
    a.secrets === b.secrets &&
    a.secret_key_id === b.secret_key_id &&
    a.account_id === b.account_id &&
    a.type === b.type &&
    a.created_at === b.created_at
  );
}

export function connectorRowCodec(box: SecretBox): ConnectorRowCodec {
  /**
   * Rows opened before, by id: a row read again with the same content (every column the connector
   * is made of, the sealed secrets included) opens to the same, frozen connector without parsing
   * or decrypting again. Keyed by content, not by a notice of change, it is right with any number
   * of servers writing to one database: any write changes `updated_at` (or `last_check`, or the
   * ciphertext) and so misses. The secrets it holds are the ones a request opens anyway, in the same
   * process that holds the master keys.
   */
  const opened = new Map<string, { row: ReadConnectorRow; connector: StoredConnector }>();
  /** The row's secrets; a failure names the connector and the key id, for the log (the 500 says nothing). */
  function openNamed(id: string, type: string, sealed: { sealed: string; keyId: string }) {
    try {
      return box.open(id, type, sealed);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      throw new DecryptionError(
        `the secrets of connector ${id} (sealed with key ${sealed.keyId}) do not open with the configured master keys: ${error.message}`,
      );
    }
  }

  return {
    seal(id, type, params) {
      const { plain, secret } = splitSecrets(type, params);
      if (Object.keys(secret).length === 0)
        return { params: JSON.stringify(plain), secrets: null, secret_key_id: null };
      const { sealed, keyId } = box.seal(id, type.id, secret);
      return { params: JSON.stringify(plain), secrets: sealed, secret_key_id: keyId };
    },

    open(row) {
      const known = opened.get(row.id);
      if (known && sameContent(known.row, row)) return known.connector;
      const connector = openRow(row);
      if (known) opened.delete(row.id);
      else if (opened.size >= MAX_OPENED) {
        const oldest = opened.keys().next();
        if (!oldest.done) opened.delete(oldest.value);
      }
      opened.set(row.id, { row: { ...row }, connector });
      return connector;
    },
  };

  function openRow(row: ReadConnectorRow): StoredConnector {
    const type = storedConnectorType(row.type, `connector ${row.id}`);
    const plain = JSON.parse(row.params) as Record<string, string>;
    const secret =
      row.secrets !== null && row.secret_key_id !== null
        ? openNamed(row.id, row.type, { sealed: row.secrets, keyId: row.secret_key_id })
        : {};
    return Object.freeze({
      id: row.id,
      type,
      name: row.name,
      params: Object.freeze(joinSecrets(type, plain, secret)),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      ...(row.last_check === null
        ? {}
        : { lastCheck: deepFreeze(JSON.parse(row.last_check) as CheckResult) }),
    });
  }
}

/** Shared between requests, so nobody may change it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
