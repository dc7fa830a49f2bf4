import { Type } from '@sinclair/typebox';
import { chatText } from '../../chat/format.js';
import { postChat, posted } from '../../chat/post.js';
import { defineConnectorType, param } from '../../define.js';

/** Slack's recommended most characters of a message's `text` (it truncates beyond 40,000). */
export const SLACK_MAX_TEXT = 4000;

export const slack = defineConnectorType({
  id: 'slack',
  displayName: 'Slack',
  description:
    'Posts to Slack: through the installed ilert app in ilert (no credentials), through an incoming webhook here.',
  params: {
    url: param.url(
      'Optional Slack incoming-webhook URL (https://hooks.slack.com/services/…); it embeds a token. Needed to deliver',
      { secret: true, required: false },
    ),
  },
  check: {
    kind: 'offline',
    reason:
      'a Slack incoming webhook can only be tested by posting a message, which Plugboard does not do; without a url there is nothing to check',
    validate: {
      description: 'a url, when given, is an incoming-webhook URL (its path is /services/…)',
      problem: (params) =>
        params.url === undefined || /^\/services\/[^/]+\/[^/]+\/[^/]+\/?$/.test(new URL(params.url).pathname)
          ? undefined
          : 'the url does not look like a Slack incoming webhook (https://hooks.slack.com/services/T…/B…/…)',
    },
  },
  deliver: {
    kind: 'chat',
    description: `POST {url} (the incoming webhook) with \`text\` in Slack's mrkdwn (title, details, facts, links; at most ${SLACK_MAX_TEXT} characters)`,
    options: Type.Object({}, { additionalProperties: false }),
    missing: (params) =>
      params.url
        ? undefined
        : 'this Slack connector has no incoming-webhook url: create an incoming webhook for the channel (a Slack app with Incoming Webhooks) and set it as params.url (PUT /api/connectors/{id})',
    send({ event, params }, run) {
      const url = params.url;
      if (!url) return Promise.resolve({ result: 'failed', message: 'the connector has no url to post to' });
      return postChat(run, 'Slack', {
        url,
        secretUrl: true,
        body: { text: chatText(event, 'slack', SLACK_MAX_TEXT) },
        read: (_response, usual) => posted(usual, 'Slack posted the message'),
      });
    },
  },
});
