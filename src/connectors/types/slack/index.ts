import { defineConnectorType } from '../../define.js';

export const slack = defineConnectorType({
  id: 'slack',
  displayName: 'Slack',
  description: 'Posts to Slack through the installed ilert app; no credentials pass through the API.',
  params: {},
  check: {
    kind: 'offline',
    reason: 'Slack is installed as an app; no credentials pass through the API, so there is nothing to check',
  },
});
