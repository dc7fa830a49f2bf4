import { defineFixture } from '../../fixture.js';
import { zoomChat } from './index.js';

export const fixture = defineFixture(zoomChat, {
  example: {
    url: 'https://integrations.zoom.us/chat/webhooks/incomingwebhook/abc',
    authorization: 'verification-token',
  },
  refusedOffline: [{ url: 'https://example.com/webhook' }],
});
