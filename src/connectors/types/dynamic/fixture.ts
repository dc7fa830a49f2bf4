import { isRecord } from '../../../is-record.js';
import { EVENT_TYPES } from '../../delivery.js';
import { type DeliveryFake, defineFixture, type FakeAction, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { dynamic } from './index.js';

/**
 * A web service behind a dynamic connector: it takes POST /alert-action with `Authorization: Bearer
 * <token>` and a JSON body that is one event as the Events API names it; anything else is refused.
 */
function fake(): DeliveryFake {
  const actions: FakeAction[] = [];
  return {
    actions,
    answer({ req, path, body, send }) {
      if (path !== '/alert-action' || req.method !== 'POST') return send(404, NOT_FOUND_PAGE);
      if (req.headers.authorization !== `Bearer ${GOOD.token}`) return send(401, { error: 'unauthorized' });
      if (!req.headers['content-type']?.startsWith('application/json'))
        return send(415, { error: 'expected application/json' });
      let event: unknown;
      try {
        event = JSON.parse(body);
      } catch {
        return send(400, { error: 'body is not JSON' });
      }
      if (
        !isRecord(event) ||
        !EVENT_TYPES.some((type) => type === event.eventType) ||
        typeof event.alertKey !== 'string' ||
        (event.summary !== undefined && typeof event.summary !== 'string')
      )
        return send(422, { error: 'not an event: eventType, alertKey and summary expected' });
      actions.push({ action: 'message', text: typeof event.summary === 'string' ? event.summary : '' });
      return send(202, { accepted: true });
    },
  };
}

export const fixture = defineFixture(dynamic, {
  example: {
    url: 'https://actions.example.com/alert-action',
    responseUrl: 'https://actions.example.com/alert-action/response',
    authorization: 'Bearer action-token',
  },
  delivery: {
    params: (base, { token }) => ({ url: `${base}/alert-action`, authorization: `Bearer ${token}` }),
    options: {},
    fake,
  },
});
