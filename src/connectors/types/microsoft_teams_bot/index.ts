import { defineConnectorType, param } from '../../define.js';

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
});
