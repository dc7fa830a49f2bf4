import { defineConnectorType, param } from '../define.js';

export const topdesk = defineConnectorType({
  id: 'topdesk',
  displayName: 'TOPdesk',
  description: 'Opens and updates TOPdesk incidents.',
  params: {
    url: param.url('Base URL of the TOPdesk instance, e.g. https://example.topdesk.net'),
    username: param.text('TOPdesk operator login name'),
    password: param.secret('Application password of that operator'),
  },
});
