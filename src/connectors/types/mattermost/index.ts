import { Type } from '@sinclair/typebox';
import { chatText } from '../../chat/format.js';
import { postChat, posted } from '../../chat/post.js';
import { defineConnectorType, param } from '../../define.js';

/** The most characters of one Mattermost post (the server's post message limit). */
export const MATTERMOST_MAX_TEXT = 16_383;

export const mattermost = defineConnectorType({
  id: 'mattermost',
  displayName: 'Mattermost',
  description: 'Posts messages to a Mattermost channel through an incoming webhook.',
  params: {
    url: param.url('Mattermost incoming-webhook URL; it embeds the webhook key', { secret: true }),
  },
  check: {
    kind: 'offline',
    reason:
      'a Mattermost incoming webhook can only be tested by posting a message, which Plugboard does not do',
    validate: {
      description: 'the URL is an incoming-webhook URL (its path ends in /hooks/ and the key)',
      problem: (params) =>
        /\/hooks\/[A-Za-z0-9]+\/?$/.test(new URL(params.url).pathname)
          ? undefined
          : 'the URL does not look like a Mattermost incoming webhook (…/hooks/<key>)',
    },
  },
  deliver: {
    kind: 'chat',
    description: `POST {url} with \`text\` in Markdown (title, details, facts, links, images; at most ${MATTERMOST_MAX_TEXT} characters)`,
    options: Type.Object({}, { additionalProperties: false }),
    send({ event, params }, run) {
      return postChat(run, 'Mattermost', {
        url: params.url,
        secretUrl: true,
        body: { text: chatText(event, 'markdown', MATTERMOST_MAX_TEXT) },
        read: (_response, usual) => posted(usual, 'Mattermost posted the message'),
      });
    },
  },
});
