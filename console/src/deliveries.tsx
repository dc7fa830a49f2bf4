import type { Connector, Me } from './api';

/**
 * A connector's deliveries (state, attempts, retry, cancel, "send a test event") go here once the
 * deliveries API (POST /api/connectors/{id}/deliveries, GET /api/deliveries…) is on main.
 */
export function Deliveries(_props: { me: Me; connector: Connector }) {
  return null;
}
