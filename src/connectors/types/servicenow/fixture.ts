import { type DeliveryFake, defineFixture, NOT_FOUND_PAGE } from '../../fixture.js';
import { idIn, isTextAt, jsonObject, route, TicketBook } from '../../tickets/fixture.js';
import { servicenow } from './index.js';

const NOT_AUTHENTICATED = {
  error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
  status: 'failure',
};

/** ServiceNow's Table API for incidents: create, update with work notes, resolve (state 6 with close code and notes). */
function servicenowFake(): DeliveryFake {
  const book = new TicketBook();
  const sysId = (n: string) => n.padStart(32, 'a');
  const bySysId = new Map<string, string>();
  return {
    actions: book.actions,
    answer(request) {
      const { path, goodBasic, send } = request;
      if (!path.startsWith('/api/now/table/incident')) return send(404, NOT_FOUND_PAGE);
      if (!goodBasic) return send(401, NOT_AUTHENTICATED);
      const body = jsonObject(request);
      if (route(request) === 'POST /api/now/table/incident') {
        const levelsOk = ['urgency', 'impact'].every(
          (k) => body?.[k] === undefined || ['1', '2', '3'].includes(String(body[k])),
        );
        if (!isTextAt(body, 'short_description', 160) || !isTextAt(body, 'description') || !levelsOk)
          return send(400, {
            error: { message: 'Invalid incident', detail: 'short_description and description are required' },
            status: 'failure',
          });
        const number = book.open();
        bySysId.set(sysId(number), number);
        return send(201, { result: { sys_id: sysId(number), number: `INC00100${number}` } });
      }
      const id = idIn(path, /^\/api\/now\/table\/incident\/([0-9a-z]{32})$/);
      const number = id === undefined ? undefined : bySysId.get(id);
      if (route(request) !== `PATCH ${path}` || number === undefined)
        return send(404, {
          error: {
            message: 'No Record found',
            detail: "Record doesn't exist or ACL restricts the record retrieval",
          },
          status: 'failure',
        });
      if (body?.state === '6') {
        if (!isTextAt(body, 'close_code') || !isTextAt(body, 'close_notes'))
          return send(403, {
            error: {
              message: 'Operation Failed',
              detail: 'Data Policy Exception: Resolution code, Resolution notes are mandatory',
            },
            status: 'failure',
          });
        book.close(number);
        return send(200, { result: { sys_id: id, state: '6' } });
      }
      if (!isTextAt(body, 'work_notes'))
        return send(400, { error: { message: 'nothing to update' }, status: 'failure' });
      book.comment(number);
      return send(200, { result: { sys_id: id } });
    },
  };
}

export const fixture = defineFixture(servicenow, {
  example: { url: 'https://example.service-now.com', username: 'plugboard', password: 'servicenow-password' },
  target: {
    params: (base, { user, password }) => ({ url: base, username: user, password }),
    // GET /api/now/table/sys_user?sysparm_limit=1; a locked-out user is not authenticated either.
    answer({ path, goodBasic, send }) {
      if (path !== '/api/now/table/sys_user') return send(404, NOT_FOUND_PAGE);
      if (goodBasic)
        return send(200, { result: [{ sys_id: '6816f79cc0a8016401c5a33be04be441', user_name: 'admin' }] });
      return send(401, NOT_AUTHENTICATED);
    },
    locked: /refused the credentials.*User Not Authenticated/,
  },
  delivery: {
    params: (base, { user, password }) => ({ url: base, username: user, password }),
    options: { callerId: 'plugboard', impact: '2' },
    fake: servicenowFake,
  },
});
