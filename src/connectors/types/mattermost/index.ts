import { defineConnectorType, param } from '../../define.js';

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
});
