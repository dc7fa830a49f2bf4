import { defineFixture, NOT_FOUND_PAGE } from '../../fixture.js';
import { servicenow } from './index.js';

export const fixture = defineFixture(servicenow, {
  example: { url: 'https://example.service-now.com', username: 'plugboard', password: 'servicenow-password' },
  target: {
    params: (base, { user, password }) => ({ url: base, username: user, password }),
    // GET /api/now/table/sys_user?sysparm_limit=1; a locked-out user is not authenticated either.
    answer({ path, goodBasic, send }) {
      if (path !== '/api/now/table/sys_user') return send(404, NOT_FOUND_PAGE);
      if (goodBasic)
        return send(200, { result: [{ sys_id: '6816f79cc0a8016401c5a33be04be441', user_name: 'admin' }] });
      return send(401, {
        error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
        status: 'failure',
      });
    },
    locked: /refused the credentials.*User Not Authenticated/,
  },
});
