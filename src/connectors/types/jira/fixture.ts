import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { jira } from './index.js';

export const fixture = defineFixture(jira, {
  example: {
    url: 'https://example.atlassian.net',
    email: 'bot@example.com',
    password: 'atlassian-api-token',
  },
  target: {
    params: (base, { user, password }) => ({ url: base, email: user, password }),
    // Jira Cloud: GET /rest/api/3/myself; a locked account answers 403 with X-Seraph-LoginReason.
    answer({ path, basic, goodBasic, send }) {
      if (path !== '/rest/api/3/myself') return send(404, NOT_FOUND_PAGE);
      if (basic?.user === GOOD.lockedUser) {
        return send(
          403,
          { errorMessages: ['Basic authentication failed: CAPTCHA required'] },
          {
            'x-seraph-loginreason': 'AUTHENTICATION_DENIED',
            'x-authentication-denied-reason':
              'CAPTCHA_CHALLENGE; login-url=https://example.atlassian.net/login.jsp',
          },
        );
      }
      if (goodBasic)
        return send(200, { accountId: '5b10a2844c20165700ede21g', emailAddress: GOOD.user, active: true });
      return send(401, {
        errorMessages: ['Client must be authenticated to access this resource.'],
        errors: {},
      });
    },
    locked: /AUTHENTICATION_DENIED.*locked/,
  },
});
