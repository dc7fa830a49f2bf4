import { getAndJudge, value } from '../checks/http.js';
import { defineConnectorType, param } from '../define.js';

export const github = defineConnectorType({
  id: 'github',
  displayName: 'GitHub',
  description: 'Opens and updates GitHub issues.',
  params: {
    apiKey: param.secret('GitHub personal access token'),
  },
  check: {
    kind: 'online',
    description: 'GET https://api.github.com/user with the token as Bearer',
    run: (params, context) =>
      getAndJudge(context, 'GitHub', `${context.endpoints.github}/user`, {
        authorization: `Bearer ${value(params, 'apiKey')}`,
        accept: 'application/vnd.github+json',
      }),
  },
});
