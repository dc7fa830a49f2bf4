import type { RevealSecrets } from '../config.js';
import { findConnectorType } from '../connectors/registry.js';
import type { Connector } from '../connectors/schemas.js';
import { maskSecrets } from '../connectors/secrets.js';
import type { StoredConnector } from '../store/connector-store.js';
import type { KeyRole } from '../store/schema.js';

/**
 * A stored connector as the API returns it to a key of the given role: secrets in full for write
 * keys, unless secrets are write-only for everyone (`never`); the placeholder otherwise.
 */
export function presentConnector(
  connector: StoredConnector,
  role: KeyRole,
  reveal: RevealSecrets,
): Connector {
  const showSecrets = role === 'write' && reveal === 'write-keys';
  return {
    id: connector.id,
    type: connector.type,
    name: connector.name,
    createdAt: connector.createdAt,
    updatedAt: connector.updatedAt,
    params: showSecrets
      ? { ...connector.params }
      : maskSecrets(findConnectorType(connector.type), connector.params),
    ...(connector.lastCheck ? { lastCheck: connector.lastCheck } : {}),
  };
}
