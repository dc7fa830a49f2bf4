import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { discord } from './index.js';

export const fixture = defineFixture(discord, {
  example: { url: 'https://discord.com/api/webhooks/1234567890/webhook-token' },
  target: {
    params: (base, { token }) => ({ url: `${base}/api/webhooks/1234567890/${token}` }),
    // GET on the webhook URL answers with the webhook object; a deleted one is unknown.
    answer({ path, send }) {
      const match = /^\/api\/webhooks\/(\d+)\/([\w-]+)$/.exec(path);
      if (!match) return send(404, NOT_FOUND_PAGE);
      if (match[2] === GOOD.token)
        return send(200, { type: 1, id: match[1], name: 'alerts', channel_id: '199737254929760256' });
      if (match[2] === GOOD.lockedToken) return send(404, { message: 'Unknown Webhook', code: 10015 });
      return send(401, { message: 'Invalid Webhook Token', code: 50027 });
    },
    locked: /does not know this webhook.*Unknown Webhook.*deleted/,
  },
});
