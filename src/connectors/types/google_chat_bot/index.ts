import { defineConnectorType } from '../../define.js';

export const googleChatBot = defineConnectorType({
  id: 'google_chat_bot',
  displayName: 'Google Chat (bot)',
  description: 'Posts to Google Chat through the installed ilert app; no credentials pass through the API.',
  params: {},
  check: {
    kind: 'offline',
    reason:
      'Google Chat is installed as an app; no credentials pass through the API, so there is nothing to check',
  },
});
