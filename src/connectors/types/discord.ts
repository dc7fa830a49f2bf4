import { call, judge, value } from '../checks/http.js';
import { defineConnectorType, param } from '../define.js';

export const discord = defineConnectorType({
  id: 'discord',
  displayName: 'Discord',
  description: 'Posts messages to a Discord channel through an incoming webhook.',
  params: {
    url: param.url('Discord webhook URL; it embeds the webhook token', { secret: true }),
  },
  check: {
    kind: 'online',
    description: 'GET on the webhook URL: Discord answers with the webhook and posts nothing',
    async run(params, context) {
      const result = await call(context, {
        method: 'GET',
        url: value(params, 'url'),
        headers: { accept: 'application/json' },
      });
      if ('outcome' in result) return result.outcome;
      const outcome = judge(result.response, 'Discord');
      return outcome.status === 'ok' ? { ...outcome, message: 'Discord knows this webhook' } : outcome;
    },
  },
});
