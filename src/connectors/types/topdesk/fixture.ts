import { type DeliveryFake, defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { idIn, isTextAt, jsonObject, objectAt, route, TicketBook } from '../../tickets/fixture.js';
import { topdesk } from './index.js';

const uuid = (n: string) => `6b704cbf-76f5-4802-b65d-${n.padStart(12, '0')}`;

/** TOPdesk's incidents API: create (with a caller), add actions, complete and close. */
function topdeskFake(): DeliveryFake {
  const book = new TicketBook();
  const byId = new Map<string, string>();
  return {
    actions: book.actions,
    answer(request) {
      const { path, goodBasic, send } = request;
      if (!path.startsWith('/tas/api/incidents')) return send(404, NOT_FOUND_PAGE);
      if (!goodBasic) return send(401, [{ message: 'The provided credentials are not correct.' }]);
      const body = jsonObject(request);
      if (route(request) === 'POST /tas/api/incidents') {
        const caller =
          isTextAt(objectAt(body, 'caller'), 'dynamicName') ||
          isTextAt(objectAt(body, 'callerLookup'), 'email');
        if (!caller) return send(400, [{ message: 'A caller is required.' }]);
        if (!isTextAt(body, 'briefDescription', 80))
          return send(400, [{ message: 'briefDescription: the value is too long (maximum 80 characters).' }]);
        if (
          !['firstLine', 'secondLine', 'partial'].includes(String(body?.status)) ||
          !isTextAt(body, 'request')
        )
          return send(400, [{ message: 'Invalid status or request.' }]);
        const number = book.open();
        byId.set(uuid(number), number);
        return send(201, { id: uuid(number), number: `I 2612 0${number}`, status: body?.status });
      }
      const id = idIn(path, /^\/tas\/api\/incidents\/id\/([0-9a-f-]{36})$/);
      const number = id === undefined ? undefined : byId.get(id);
      if (number === undefined || route(request) !== `PATCH ${path}`)
        return send(404, [{ message: 'No incident found with this id.' }]);
      if (!isTextAt(body, 'action')) return send(400, [{ message: 'Nothing to change.' }]);
      if (body?.closed === true) book.close(number);
      else book.comment(number);
      return send(200, { id, number: `I 2612 0${number}`, closed: body?.closed === true });
    },
  };
}

export const fixture = defineFixture(topdesk, {
  example: { url: 'https://example.topdesk.net', username: 'plugboard', password: 'application-password' },
  target: {
    params: (base, { user, password }) => ({ url: base, username: user, password }),
    // GET /tas/api/version, then an authenticated call; errors are a list of messages.
    answer({ path, basic, goodBasic, send }) {
      if (path === '/tas/api/version') return send(200, { version: '3.7.0' });
      if (path !== '/tas/api/incidents') return send(404, NOT_FOUND_PAGE);
      if (goodBasic) return send(200, []);
      if (basic?.user === GOOD.lockedUser)
        return send(403, [{ message: 'The operator account is blocked.' }]);
      return send(401, [{ message: 'The provided credentials are not correct.' }]);
    },
    locked: /refused the credentials.*operator account is blocked/,
  },
  delivery: {
    params: (base, { user, password }) => ({ url: base, username: user, password }),
    options: { status: 'secondLine' },
    fake: topdeskFake,
  },
});
