import { isRecord } from '../is-record.js';
import { DecryptionError, open, seal } from './cipher.js';
import type { KeyringSource } from './keyring.js';

/** A sealed set of secret params and the id of the key that sealed it. */
export interface SealedSecrets {
  readonly sealed: string;
  readonly keyId: string;
}

/**
 * Seals a connector's secret params under the primary master key, bound to the connector's id
 * and type, and opens them with whichever key sealed them.
 */
export interface SecretBox {
  seal(connectorId: string, type: string, secrets: Readonly<Record<string, string>>): SealedSecrets;
  open(connectorId: string, type: string, sealed: SealedSecrets): Record<string, string>;
  /** The id of the key new secrets are sealed with. */
  primaryKeyId(): string;
}

export class UnknownMasterKeyError extends Error {
  constructor(readonly keyId: string) {
    super(`secrets sealed with master key ${keyId}, which is not configured`);
    this.name = 'UnknownMasterKeyError';
  }
}

function associatedData(connectorId: string, type: string): string {
  return `plugboard connector\0${connectorId}\0${type}`;
}

/** The string-valued entries of a parsed object: the object itself when they are all it has. */
function onlyStrings(value: Record<string, unknown>): Record<string, string> {
  let plain = true;
  for (const name in value) {
    if (typeof value[name] !== 'string' || name === '__proto__') {
      plain = false;
      break;
    }
  }
  if (plain) return value as Record<string, string>;
  const secrets: Record<string, string> = {};
  for (const [name, item] of Object.entries(value)) if (typeof item === 'string') secrets[name] = item;
  return secrets;
}

export function createSecretBox(source: KeyringSource): SecretBox {
  return {
    seal(connectorId, type, secrets) {
      const { primary } = source.current();
      return {
        sealed: seal(primary, JSON.stringify(secrets), associatedData(connectorId, type)),
        keyId: primary.id,
      };
    },
    open(connectorId, type, { sealed, keyId }) {
      const key = source.current().find(keyId) ?? source.reload().find(keyId);
      if (!key) throw new UnknownMasterKeyError(keyId);
      const value: unknown = JSON.parse(open(key, sealed, associatedData(connectorId, type)));
      if (!isRecord(value)) {
        throw new DecryptionError('sealed secrets are not an object');
      }
      return onlyStrings(value);
    },
    primaryKeyId: () => source.current().primary.id,
  };
}
