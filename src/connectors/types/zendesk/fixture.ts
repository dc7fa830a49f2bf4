import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { zendesk } from './index.js';

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
});
