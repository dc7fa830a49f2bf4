import type { RevealSecrets } from '../config.js';
import { storedConnectorType } from '../connectors/registry.js';
import type { Connector } from '../connectors/schemas.js';
import { maskSecrets } from '../connectors/secrets.js';
import { isRecord } from '../is-record.js';
import type { StoredConnector } from '../store/connector-store.js';
import type { KeyRole } from '../store/schema.js';

/**
 * A stored connector as the API returns it to a key of the given role: secrets in full for write
 * keys, unless secrets are write-only for everyone (`never`); the placeholder otherwise.
 */
/** Whether a key of this role sees secrets in full. */
function revealsSecrets(role: KeyRole, reveal: RevealSecrets): boolean {
  return role === 'write' && reveal === 'write-keys';
}

/**
 * A stored create response replayed for an Idempotency-Key retry, shown as this caller may see it
 * now: recorded when secrets were shown in full, it is masked if they are write-only since.
 */
export function presentReplay(body: unknown, role: KeyRole, reveal: RevealSecrets): unknown {
  if (revealsSecrets(role, reveal) || !isRecord(body)) return body;
  const { id, type, params } = body;
  if (typeof type !== 'string' || !isRecord(params)) return body;
  const texts: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') texts[name] = value;
  return {
    ...body,
    params: maskSecrets(storedConnectorType(type, `the recorded response of ${String(id)}`), texts),
  };
}

/**
 * The two views of each stored connector, made once: the store gives out one frozen object per
 * version of a connector (connector-row.ts), so a view, its ETag and its JSON (routes/connectors.ts)
 * are made once per version too, and go with it. A connector the store did not keep (read once, not
 * frozen: connector-row.ts) is presented for this request alone: its view is not frozen either, so
 * that neither it nor its ETag and JSON are kept.
 */
const views = new WeakMap<StoredConnector, { revealed?: Connector; masked?: Connector }>();

export function presentConnector(
  connector: StoredConnector,
  role: KeyRole,
  reveal: RevealSecrets,
): Connector {
  const showSecrets = revealsSecrets(role, reveal);
  if (!Object.isFrozen(connector)) return viewOf(connector, showSecrets, false);
  let made = views.get(connector);
  if (!made) {
    made = {};
    views.set(connector, made);
  }
  const known = showSecrets ? made.revealed : made.masked;
  if (known) return known;
  const view = Object.freeze(viewOf(connector, showSecrets, true));
  if (showSecrets) made.revealed = view;
  else made.masked = view;
  return view;
}

/**
 * A view of `connector`; `shared` (kept and frozen with a frozen connector) gets params of its own,
 * frozen. One not shared (a connector read once: a walk's page, a write's answer) shows the
 * connector's own params object in full: the codec made it for this connector alone (joinSecrets),
 * and view and connector are this request's alone, so the copy of every param was work for nothing
 * (a walk page's hundred views).
 */
function viewOf(connector: StoredConnector, showSecrets: boolean, shared: boolean): Connector {
  const params = showSecrets
    ? shared
      ? Object.freeze({ ...connector.params })
      : connector.params
    : Object.freeze(maskSecrets(connector.type, connector.params));
  const view: Connector = {
    id: connector.id,
    type: connector.type.id,
    name: connector.name,
    createdAt: connector.createdAt,
    updatedAt: connector.updatedAt,
    params,
  };
  if (connector.lastCheck) view.lastCheck = connector.lastCheck;
  return view;
}
