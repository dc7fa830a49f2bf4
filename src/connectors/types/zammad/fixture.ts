import { isRecord } from '../../../is-record.js';
import { type DeliveryFake, defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { idIn, isTextAt, jsonObject, route, TicketBook } from '../../tickets/fixture.js';
import { zammad } from './index.js';

function isNote(article: unknown): boolean {
  return isRecord(article) && article.type === 'note' && isTextAt(article, 'body');
}

/** Zammad's tickets API, for group Users and customer nicole.braun@zammad.org. */
function zammadFake(): DeliveryFake {
  const book = new TicketBook();
  return {
    actions: book.actions,
    answer(request) {
      const { req, path, send } = request;
      if (!path.startsWith('/api/v1/ticket')) return send(404, NOT_FOUND_PAGE);
      if (req.headers.authorization !== `Token token=${GOOD.token}`)
        return send(401, { error: 'Invalid token!', error_human: 'Invalid token!' });
      const body = jsonObject(request);
      switch (route(request)) {
        case 'POST /api/v1/tickets': {
          if (body?.group !== 'Users')
            return send(422, { error: 'No lookup value found for \'group\': "x"' });
          if (body?.customer !== 'nicole.braun@zammad.org')
            return send(422, { error: "No lookup value found for 'customer'" });
          if (!isTextAt(body, 'title') || !isNote(body?.article))
            return send(422, { error: 'Need at least article: { body: "some text" }' });
          const id = book.open();
          return send(201, { id: Number(id), number: `3100${id}`, title: body?.title, state_id: 1 });
        }
        case 'POST /api/v1/ticket_articles': {
          const id = String(body?.ticket_id);
          if (!book.has(id)) return send(404, { error: 'Not authorized' });
          if (!isNote(body)) return send(422, { error: 'Need at least article: { body: "some text" }' });
          book.comment(id);
          return send(201, { id: 50, ticket_id: Number(id), type: 'note' });
        }
        default: {
          const id = idIn(path, /^\/api\/v1\/tickets\/(\d+)$/);
          if (id === undefined || !book.has(id) || route(request) !== `PUT ${path}`)
            return send(404, { error: `Couldn't find Ticket with 'id'=${id ?? ''}` });
          if (body?.state !== 'closed' || !isNote(body?.article))
            return send(422, { error: 'Invalid update' });
          book.close(id);
          return send(200, { id: Number(id), state_id: 4 });
        }
      }
    },
  };
}

export const fixture = defineFixture(zammad, {
  example: { url: 'https://example.zammad.com', apiKey: 'zammad-access-token' },
  target: {
    params: (base, { token }) => ({ url: base, apiKey: token }),
    // GET /api/v1/users/me with Token token=…
    answer({ req, path, send }) {
      if (path !== '/api/v1/users/me') return send(404, NOT_FOUND_PAGE);
      const auth = req.headers.authorization;
      if (auth === `Token token=${GOOD.token}`) return send(200, { id: 3, login: GOOD.user });
      if (auth === `Token token=${GOOD.lockedToken}`)
        return send(401, { error: 'User is inactive.', error_human: 'User is inactive.' });
      return send(401, { error: 'Invalid token!', error_human: 'Invalid token!' });
    },
    locked: /refused the credentials.*User is inactive/,
  },
  delivery: {
    params: (base, { token }) => ({ url: base, apiKey: token }),
    options: { group: 'Users', customer: 'nicole.braun@zammad.org' },
    fake: zammadFake,
  },
});
