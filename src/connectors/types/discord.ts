import { defineConnectorType, param } from '../define.js';

export const discord = defineConnectorType({
  id: 'discord',
  displayName: 'Discord',
  description: 'Posts messages to a Discord channel through an incoming webhook.',
  params: {
    url: param.url('Discord webhook URL; it embeds the webhook token', { secret: true }),
  },
});
