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

/** Params as sealed for their columns: the plain and the secret half, and the columns made of them. */
export interface SealedParams {
  readonly columns: ParamColumns;
  readonly plain: Record<string, string>;
  readonly secret: Record<string, string>;
}

/**
 * Connector rows in and out: the type's secret params sealed together (bound to the connector's id
 * and type) beside the plain ones on the way in; on the way out the type resolved, once, and the
 * secrets opened. Nothing else sees ciphertext.
 */
export interface ConnectorRowCodec {
  seal(id: string, type: RegisteredType, params: Params): ParamColumns;
  /** seal, with the two halves it sealed and stored (for `written`). */
  sealParts(id: string, type: RegisteredType, params: Params): SealedParams;
  /**
   * The connector of a row just written with `parts`: what `open(row)` gives (and keeps, as it
   * would), made from the params in hand instead of parsing and decrypting the row.
   */
  written(row: ReadConnectorRow, parts: SealedParams): StoredConnector;
  /** Throws UnknownConnectorTypeError for a type no longer registered, DecryptionError for secrets no key opens. */
  open(row: ReadConnectorRow): StoredConnector;
  /** `open`, kept (and frozen) from this first read on, for a caller that keeps it too (connector-cache.ts). */
  openKept(row: ReadConnectorRow): StoredConnector;
}

/** How many opened connectors a codec keeps (a few KiB each), in two generations of half as many. */
const MAX_OPENED = 10_000;
/**
 * The doorkeeper: a Bloom filter of the ids read (2^21 bits, 256 KiB, three bits per id), emptied
 * after 200,000 ids, when about 1.7 % of new ids would seem seen (they are then kept at their first
 * read, which costs only memory).
 */
const SEEN_BITS = 1 << 21;
const SEEN_IDS = 200_000;

/** FNV-1a of a string's UTF-16 code units. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

/** MurmurHash3's finalizer: every bit of the result depends on every bit of `h`. */
function mix(h: number): number {
  let x = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Ids seen, approximately: a new id may seem seen (rarely), an id seen since the last reset always is. */
function doorkeeper(): (id: string) => boolean {
  const bits = new Uint32Array(SEEN_BITS / 32);
  let marked = 0;
  return (id) => {
    const hash = hashOf(id);
    const h1 = mix(hash);
    const h2 = mix(hash ^ 0x9e3779b9) | 1;
    let seen = true;
    for (let k = 0; k < 3; k++) {
      const bit = (h1 + Math.imul(k, h2)) & (SEEN_BITS - 1);
      const word = bit >>> 5;
      const mask = 1 << (bit & 31);
      if (((bits[word] ?? 0) & mask) === 0) {
        seen = false;
        bits[word] = (bits[word] ?? 0) | mask;
      }
    }
    if (!seen && ++marked > SEEN_IDS) {
      bits.fill(0);
      marked = 0;
    }
    return seen;
  };
}

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
   *
   * Two generations rather than a least-recently-used Map: dropping a Map's oldest entry one at a
   * time leaves holes at its front that every `keys().next()` walks again (11 % of a page walk's CPU).
   * A connector is kept from its second read on (the doorkeeper remembers the first, in a Bloom
   * filter): a walk through every page reads each row once, and keeping those rows only filled
   * the old generation of the heap for the garbage collector to empty (23 % of the walk's CPU, and
   * its 25-50 ms pauses). A connector not kept is not frozen: it is this request's alone, and the
   * views, ETags and JSON made of it are not kept either (present.ts, conditional.ts).
   */
  let recent = new Map<string, { row: ReadConnectorRow; connector: StoredConnector }>();
  let older = new Map<string, { row: ReadConnectorRow; connector: StoredConnector }>();
  /** Whether the id was read before (doorkeeper). */
  const seenBefore = doorkeeper();
  function keep(id: string, entry: { row: ReadConnectorRow; connector: StoredConnector }): void {
    recent.set(id, entry);
    if (recent.size >= MAX_OPENED / 2) {
      older = recent;
      recent = new Map();
    }
  }
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

  function sealParts(id: string, type: RegisteredType, params: Params): SealedParams {
    const { plain, secret } = splitSecrets(type, params);
    if (Object.keys(secret).length === 0)
      return {
        columns: { params: JSON.stringify(plain), secrets: null, secret_key_id: null },
        plain,
        secret,
      };
    const { sealed, keyId } = box.seal(id, type.id, secret);
    return {
      columns: { params: JSON.stringify(plain), secrets: sealed, secret_key_id: keyId },
      plain,
      secret,
    };
  }

  return {
    seal: (id, type, params) => sealParts(id, type, params).columns,
    sealParts,

    written(row, parts) {
      // As open(row), whose row would not be the same content as any kept (a write moves updated_at).
      const known = recent.get(row.id) ?? older.get(row.id);
      const type = storedConnectorType(row.type, `connector ${row.id}`);
      if (known === undefined && !seenBefore(row.id)) return connectorOf(row, type, parts, false);
      const connector = connectorOf(row, type, parts, true);
      // The version it replaces is not read again (a read of the row finds this one).
      if (known !== undefined && older.get(row.id) === known) older.delete(row.id);
      keep(row.id, { row: { ...row }, connector });
      // The write's answer is made of a twin not frozen, so that its view, ETag and JSON are this
      // request's alone (present.ts); the kept version gets them at its first read, if it is read
      // before it is replaced: the throughput bench's update case replaced most versions unread,
      // and kept each one's view, ETag and JSON meanwhile.
      return { ...connector };
    },

    open: (row) => open(row, false),
    openKept: (row) => open(row, true),
  };

  function open(row: ReadConnectorRow, keepAtOnce: boolean): StoredConnector {
    const known = recent.get(row.id) ?? older.get(row.id);
    if (known && sameContent(known.row, row)) {
      if (recent.get(row.id) !== known) keep(row.id, known);
      return known.connector;
    }
    // A new version of a connector read before is kept at once.
    if (known === undefined && !keepAtOnce && !seenBefore(row.id)) return openRow(row, false);
    const connector = openRow(row, true);
    keep(row.id, { row: { ...row }, connector });
    return connector;
  }

  /** The connector of a row; frozen (deeply) when it is `shared` between requests. */
  function openRow(row: ReadConnectorRow, shared: boolean): StoredConnector {
    // The type first: a type no longer registered is what the log must name (its secrets, bound
    // to the type, would not open either).
    const type = storedConnectorType(row.type, `connector ${row.id}`);
    const plain = JSON.parse(row.params) as Record<string, string>;
    const secret =
      row.secrets !== null && row.secret_key_id !== null
        ? openNamed(row.id, row.type, { sealed: row.secrets, keyId: row.secret_key_id })
        : {};
    return connectorOf(row, type, { plain, secret }, shared);
  }

  /** The connector of a row whose params are in hand, opened. */
  function connectorOf(
    row: ReadConnectorRow,
    type: RegisteredType,
    { plain, secret }: Pick<SealedParams, 'plain' | 'secret'>,
    shared: boolean,
  ): StoredConnector {
    const connector: { -readonly [K in keyof StoredConnector]: StoredConnector[K] } = {
      id: row.id,
      type,
      name: row.name,
      params: joinSecrets(type, plain, secret),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
    // Set after, rather than spread from a literal made for it (a second object per row).
    if (row.last_check !== null) connector.lastCheck = JSON.parse(row.last_check) as CheckResult;
    if (!shared) return connector;
    Object.freeze(connector.params);
    if (connector.lastCheck) deepFreeze(connector.lastCheck);
    return Object.freeze(connector);
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
