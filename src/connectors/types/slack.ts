import { defineConnectorType } from '../define.js';

export const slack = defineConnectorType({
  id: 'slack',
  displayName: 'Slack',
  description: 'Posts to Slack through the installed ilert app; no credentials pass through the API.',
  params: {},
});
