import { type DeliveryFake, defineFixture, type FakeRequest, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { idIn, isTextAt, jsonObject, objectAt, route, TicketBook } from '../../tickets/fixture.js';
import { zendesk } from './index.js';

const PRIORITIES = ['urgent', 'high', 'normal', 'low'];

function goodToken({ basic }: FakeRequest): boolean {
  return basic?.user === `${GOOD.user}/token` && basic.password === GOOD.token;
}

/** Zendesk's tickets API: create, update with a comment, solve. */
function zendeskFake(): DeliveryFake {
  const book = new TicketBook();
  return {
    actions: book.actions,
    answer(request) {
      const { path, send } = request;
      if (!path.startsWith('/api/v2/tickets')) return send(404, NOT_FOUND_PAGE);
      if (!goodToken(request)) return send(401, { error: "Couldn't authenticate you" });
      const ticket = objectAt(jsonObject(request), 'ticket');
      const comment = objectAt(ticket, 'comment');
      if (!isTextAt(comment, 'body'))
        return send(422, {
          error: 'RecordInvalid',
          description: 'Record validation errors',
          details: { base: [{ description: 'Comment: body is required' }] },
        });
      if (route(request) === 'POST /api/v2/tickets.json') {
        if (!isTextAt(ticket, 'subject') || !PRIORITIES.includes(String(ticket?.priority)))
          return send(422, { error: 'RecordInvalid', description: 'Record validation errors' });
        const id = book.open();
        return send(201, {
          ticket: { id: Number(id), url: `${request.origin}/api/v2/tickets/${id}.json`, status: 'open' },
        });
      }
      const id = idIn(path, /^\/api\/v2\/tickets\/(\d+)\.json$/);
      if (id === undefined || !book.has(id) || route(request) !== `PUT ${path}`)
        return send(404, { error: 'RecordNotFound', description: 'Not found' });
      if (ticket?.status === 'solved') book.close(id);
      else book.comment(id);
      return send(200, { ticket: { id: Number(id), status: ticket?.status ?? 'open' } });
    },
  };
}

export const fixture = defineFixture(zendesk, {
  example: { url: 'https://example.zendesk.com', email: 'agent@example.com', apiKey: 'zendesk-api-token' },
  target: {
    params: (base, { user, token }) => ({ url: base, email: user, apiKey: token }),
    // GET /api/v2/users/me.json with email/token:apiKey; an anonymous user without credentials.
    answer({ path, basic, send }) {
      if (path !== '/api/v2/users/me.json') return send(404, NOT_FOUND_PAGE);
      if (!basic) return send(200, { user: { id: null, name: 'Anonymous user', role: 'end-user' } });
      if (basic.user === `${GOOD.user}/token` && basic.password === GOOD.token)
        return send(200, { user: { id: 35436, name: 'Johnny Agent', role: 'agent' } });
      if (basic.user === `${GOOD.lockedUser}/token`)
        return send(403, {
          error: 'Forbidden',
          description: 'You do not have access to this page. The agent is suspended.',
        });
      return send(401, { error: "Couldn't authenticate you" });
    },
    locked: /refused the credentials \(HTTP 403 Forbidden: Forbidden\)/,
  },
  delivery: {
    params: (base, { user, token }) => ({ url: base, email: user, apiKey: token }),
    options: { priority: 'urgent' },
    fake: zendeskFake,
  },
});
