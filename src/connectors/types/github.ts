import { defineConnectorType, param } from '../define.js';

export const github = defineConnectorType({
  id: 'github',
  displayName: 'GitHub',
  description: 'Opens and updates GitHub issues.',
  params: {
    apiKey: param.secret('GitHub personal access token'),
  },
});
