import { isRecord } from '../../../is-record.js';
import { call, describeResponse, judge } from '../../checks/http.js';
import { parseJson } from '../../checks/said.js';
import { defineConnectorType, param } from '../../define.js';

/** Discord's JSON error code for a webhook that does not exist (any more). */
const UNKNOWN_WEBHOOK = 10015;

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
        url: params.url,
        headers: { accept: 'application/json' },
      });
      if ('outcome' in result) return result.outcome;
      const { response } = result;
      const body = parseJson(response.body, context.answers)?.value;
      if (response.status === 404 && isRecord(body) && body.code === UNKNOWN_WEBHOOK) {
        return {
          status: 'failed',
          message: `Discord does not know this webhook (${describeResponse(response)}): it was deleted, or the URL is incomplete; create a webhook in the channel's settings and use its URL`,
          httpStatus: 404,
        };
      }
      const outcome = judge(response, 'Discord');
      return outcome.status === 'ok' ? { ...outcome, message: 'Discord knows this webhook' } : outcome;
    },
  },
});
