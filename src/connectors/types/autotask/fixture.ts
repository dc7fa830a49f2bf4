import { type DeliveryFake, defineFixture, type FakeRequest, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { idIn, isTextAt, jsonObject, route, TicketBook } from '../../tickets/fixture.js';
import { autotask } from './index.js';

export const INTEGRATION_CODE = 'VENDOR0123456789ABCDEF';

/** The zone lookup: the user's zone is the fake itself, a far one, or unknown. */
function zoneInformation({ query, origin, send }: FakeRequest): void {
  const user = query.get('user');
  if (user === GOOD.user || user === GOOD.lockedUser || user === GOOD.otherZoneUser) {
    const far = user === GOOD.otherZoneUser;
    const zone = far ? 'https://webservices2.autotask.net' : `${origin}/autotask`;
    send(200, {
      zoneName: far ? 'America East' : 'Here',
      url: `${zone}/atservicesrest/`,
      webUrl: 'https://ww2.autotask.net/',
      ci: 0,
    });
    return;
  }
  send(404, { errors: ['Zone information could not be determined'] });
}

function goodHeaders({ req }: FakeRequest): boolean {
  const { apiintegrationcode: code, username, secret } = req.headers;
  return code === INTEGRATION_CODE && username === GOOD.user && secret === GOOD.password;
}

/** The API usage threshold: the cheapest authenticated read. */
function thresholdInformation(request: FakeRequest): void {
  if (!goodHeaders(request)) request.send(401, { errors: ['User authentication failed'] });
  else
    request.send(200, {
      externalRequestThreshold: 10000,
      requestThresholdTimeframe: 60,
      currentTimeframeRequestCount: 3,
    });
}

/** Autotask's REST API: tickets in queue 29683496, notes, completion by PATCH; refusals are 500s with errors. */
function autotaskFake(): DeliveryFake {
  const book = new TicketBook();
  return {
    actions: book.actions,
    answer(request) {
      const { path, send } = request;
      if (path === '/atservicesrest/v1.0/zoneInformation') return zoneInformation(request);
      if (!path.startsWith('/atservicesrest/v1.0/Tickets')) return send(404, NOT_FOUND_PAGE);
      if (!goodHeaders(request)) return send(401, { errors: ['User authentication failed'] });
      const body = jsonObject(request);
      if (route(request) === 'POST /atservicesrest/v1.0/Tickets') {
        const numbers = ['companyID', 'queueID', 'status', 'priority'].every((k) =>
          Number.isInteger(body?.[k]),
        );
        if (!numbers || !isTextAt(body, 'title', 255) || !isTextAt(body, 'description', 8000))
          return send(500, {
            errors: ['Missing Required Field: companyID, queueID, title, status or priority'],
          });
        if (body?.queueID !== 29683496)
          return send(500, { errors: ['Value does not exist for the required field queueID.'] });
        return send(200, { itemId: Number(book.open()) });
      }
      if (route(request) === 'PATCH /atservicesrest/v1.0/Tickets') {
        const id = String(body?.id);
        if (!book.has(id)) return send(404, { errors: ['Ticket not found'] });
        if (body?.status !== 5) return send(500, { errors: ['Invalid status'] });
        book.close(id);
        return send(200, { itemId: Number(id) });
      }
      const id = idIn(path, /^\/atservicesrest\/v1\.0\/Tickets\/(\d+)\/Notes$/);
      if (id === undefined || !book.has(id) || route(request) !== `POST ${path}`)
        return send(404, { errors: ['Ticket not found'] });
      const fields = ['ticketID', 'noteType', 'publish'].every((k) => Number.isInteger(body?.[k]));
      if (!fields || !isTextAt(body, 'title') || !isTextAt(body, 'description'))
        return send(500, { errors: ['Missing Required Field: title, description, noteType or publish'] });
      book.comment(id);
      return send(200, { itemId: 900 });
    },
  };
}

export const fixture = defineFixture(autotask, {
  example: {
    url: 'https://webservices5.autotask.net',
    email: 'api-user@example.com',
    password: 'api-secret',
    integrationCode: 'EXAMPLEVENDORCODE0123456',
  },
  target: {
    params: (base, { user, password }) => ({ url: base, email: user, password }),
    // GET /atservicesrest/v1.0/zoneInformation?user=… answers the user's zone.
    answer(request) {
      if (request.path === '/atservicesrest/v1.0/ThresholdInformation') return thresholdInformation(request);
      if (request.path !== '/atservicesrest/v1.0/zoneInformation') return request.send(404, NOT_FOUND_PAGE);
      return zoneInformation(request);
    },
    locked: { unseen: 'the zone lookup needs no credentials, so it knows a locked user like any other' },
  },
  delivery: {
    params: (base, { user, password }) => ({
      url: base,
      email: user,
      password,
      integrationCode: INTEGRATION_CODE,
    }),
    options: { queueId: '29683496' },
    fake: autotaskFake,
    cannotDeliver: {
      url: 'https://webservices5.autotask.net',
      email: 'api-user@example.com',
      password: 'api-secret',
    },
  },
});
