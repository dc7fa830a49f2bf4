import { getAndJudge, joinUrl } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';

export const zammad = defineConnectorType({
  id: 'zammad',
  displayName: 'Zammad',
  description: 'Opens and updates Zammad tickets.',
  params: {
    url: param.url('Base URL of the Zammad instance'),
    apiKey: param.secret('Zammad access token'),
  },
  check: {
    kind: 'online',
    description: 'GET {url}/api/v1/users/me with Authorization: Token token=…',
    run: (params, context) =>
      getAndJudge(context, 'Zammad', joinUrl(params.url, '/api/v1/users/me'), {
        authorization: `Token token=${params.apiKey}`,
      }),
  },
});
