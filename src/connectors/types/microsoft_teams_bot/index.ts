import { Type } from '@sinclair/typebox';
import { postChat, posted } from '../../chat/post.js';
import { defineConnectorType, param } from '../../define.js';
import { teamsMessage } from './card.js';

export const microsoftTeamsBot = defineConnectorType({
  id: 'microsoft_teams_bot',
  displayName: 'Microsoft Teams (bot)',
  description: 'Posts to Microsoft Teams through the installed ilert bot app.',
  params: {
    url: param.url('Optional Microsoft Teams webhook URL; it embeds a token', {
      secret: true,
      required: false,
    }),
  },
  check: {
    kind: 'offline',
    reason: 'Microsoft Teams can only be tested by posting a message, which Plugboard does not do',
  },
  deliver: {
    kind: 'chat',
    description:
      'POST {url} (a Teams Workflows webhook) with a message holding one Adaptive Card (title coloured by event and priority, details, facts, images, links as buttons; at most 28 KB)',
    options: Type.Object({}, { additionalProperties: false }),
    missing: (params) =>
      params.url
        ? undefined
        : 'this Microsoft Teams connector has no webhook url: in the channel, add the Workflows template "Post to a channel when a webhook request is received" and set its URL as params.url (PUT /api/connectors/{id})',
    send({ event, params }, run) {
      const url = params.url;
      if (!url) return Promise.resolve({ result: 'failed', message: 'the connector has no url to post to' });
      return postChat(run, 'Microsoft Teams', {
        url,
        secretUrl: true,
        body: teamsMessage(event),
        read: (_response, usual) => posted(usual, 'Microsoft Teams took the card'),
      });
    },
  },
});
