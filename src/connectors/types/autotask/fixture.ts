import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { autotask } from './index.js';

export const fixture = defineFixture(autotask, {
  example: {
    url: 'https://webservices5.autotask.net',
    email: 'api-user@example.com',
    password: 'api-secret',
  },
  target: {
    params: (base, { user, password }) => ({ url: base, email: user, password }),
    // GET /atservicesrest/v1.0/zoneInformation?user=… answers the user's zone.
    answer({ path, query, origin, send }) {
      if (path !== '/atservicesrest/v1.0/zoneInformation') return send(404, NOT_FOUND_PAGE);
      const user = query.get('user');
      if (user === GOOD.user || user === GOOD.lockedUser || user === GOOD.otherZoneUser) {
        const far = user === GOOD.otherZoneUser;
        const zone = far ? 'https://webservices2.autotask.net' : `${origin}/autotask`;
        return send(200, {
          zoneName: far ? 'America East' : 'Here',
          url: `${zone}/atservicesrest/`,
          webUrl: 'https://ww2.autotask.net/',
          ci: 0,
        });
      }
      return send(404, { errors: ['Zone information could not be determined'] });
    },
    locked: { unseen: 'the zone lookup needs no credentials, so it knows a locked user like any other' },
  },
});
