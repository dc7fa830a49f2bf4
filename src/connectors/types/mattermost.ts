import { defineConnectorType, param } from '../define.js';

export const mattermost = defineConnectorType({
  id: 'mattermost',
  displayName: 'Mattermost',
  description: 'Posts messages to a Mattermost channel through an incoming webhook.',
  params: {
    url: param.url('Mattermost incoming-webhook URL; it embeds the webhook key', { secret: true }),
  },
});
