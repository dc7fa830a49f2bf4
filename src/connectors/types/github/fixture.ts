import { defineFixture, GOOD } from '../../fixture.js';
import { github } from './index.js';

const docs = 'https://docs.github.com/rest';

export const fixture = defineFixture(github, {
  example: { apiKey: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz' },
  target: {
    params: (_base, { token }) => ({ apiKey: token }),
    // GET /user with a Bearer token.
    answer({ req, path, send }) {
      if (path !== '/user') return send(404, { message: 'Not Found', documentation_url: docs });
      const auth = req.headers.authorization;
      if (auth === `Bearer ${GOOD.token}`) return send(200, { login: 'octocat', id: 1 });
      if (auth === `Bearer ${GOOD.lockedToken}`)
        return send(403, { message: 'Sorry. Your account was suspended.', documentation_url: docs });
      if (auth === `Bearer ${GOOD.rateLimitedToken}`) {
        return send(
          403,
          { message: 'API rate limit exceeded for user ID 1.', documentation_url: `${docs}/rate-limit` },
          { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1700000000' },
        );
      }
      return send(401, { message: 'Bad credentials', documentation_url: docs });
    },
    locked: /refused the credentials.*Your account was suspended/,
  },
});
