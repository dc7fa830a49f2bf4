import { Type } from '@sinclair/typebox';
import { isRecord } from '../../../is-record.js';
import { answerOf, postChat, posted } from '../../chat/post.js';
import { call, describeResponse, judge } from '../../checks/http.js';
import { parseJson } from '../../checks/said.js';
import { defineConnectorType, param } from '../../define.js';
import { discordMessage } from './message.js';

/** Discord's JSON error code for a webhook that does not exist (any more). */
const UNKNOWN_WEBHOOK = 10015;

/** The webhook URL with `wait=true`: Discord then answers with the message it made (its id). */
function waitUrl(url: string): string {
  const target = new URL(url);
  target.searchParams.set('wait', 'true');
  return target.href;
}

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
  deliver: {
    kind: 'chat',
    description:
      'POST {url}?wait=true with one embed per event (title, colour by event and priority, details and links, facts as fields, the first image)',
    options: Type.Object({}, { additionalProperties: false }),
    send({ event, params }, run) {
      return postChat(run, 'Discord', {
        url: waitUrl(params.url),
        secretUrl: true,
        body: discordMessage(event),
        read(response, usual) {
          const body = answerOf(run, response);
          const id = isRecord(body) && typeof body.id === 'string' ? body.id : undefined;
          if (
            usual.result === 'failed' &&
            response.status === 404 &&
            isRecord(body) &&
            body.code === UNKNOWN_WEBHOOK
          )
            return {
              ...usual,
              message: `${usual.message}; the webhook was deleted: create one in the channel's settings and update the connector's url`,
            };
          return posted(usual, `Discord posted message ${id ?? '(no id)'}`, id ? { id } : undefined);
        },
      });
    },
  },
});
