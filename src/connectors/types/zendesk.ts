import { defineConnectorType, param } from '../define.js';

export const zendesk = defineConnectorType({
  id: 'zendesk',
  displayName: 'Zendesk',
  description: 'Opens and updates Zendesk tickets.',
  params: {
    url: param.url('Base URL of the Zendesk account, e.g. https://example.zendesk.com'),
    email: param.text('Email address of the Zendesk agent the API token belongs to'),
    apiKey: param.secret('Zendesk API token'),
  },
});
