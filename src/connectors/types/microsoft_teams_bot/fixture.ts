import { defineFixture } from '../../fixture.js';
import { microsoftTeamsBot } from './index.js';

export const fixture = defineFixture(microsoftTeamsBot, {
  example: { url: 'https://example.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456' },
});
