import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { zammad } from './index.js';

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
});
