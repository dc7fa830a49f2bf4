import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { topdesk } from './index.js';

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
});
