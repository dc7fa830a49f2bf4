import { defineConnectorType, param } from '../define.js';

export const zammad = defineConnectorType({
  id: 'zammad',
  displayName: 'Zammad',
  description: 'Opens and updates Zammad tickets.',
  params: {
    url: param.url('Base URL of the Zammad instance'),
    apiKey: param.secret('Zammad access token'),
  },
});
