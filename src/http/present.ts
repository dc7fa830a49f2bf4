import { findConnectorType } from '../connectors/registry.js';
import type { Connector } from '../connectors/schemas.js';
import { maskSecrets } from '../connectors/secrets.js';
import type { StoredConnector } from '../store/connector-store.js';
import type { KeyRole } from '../store/schema.js';

/** A stored connector as the API returns it to a key of the given role. */
export function presentConnector(connector: StoredConnector, role: KeyRole): Connector {
  return {
    id: connector.id,
    type: connector.type,
    name: connector.name,
    createdAt: connector.createdAt,
    updatedAt: connector.updatedAt,
    params:
      role === 'write'
        ? { ...connector.params }
        : maskSecrets(findConnectorType(connector.type), connector.params),
  };
}
