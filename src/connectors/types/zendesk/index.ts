import { basicAuth, call, joinUrl, judge } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';

export const zendesk = defineConnectorType({
  id: 'zendesk',
  displayName: 'Zendesk',
  description: 'Opens and updates Zendesk tickets.',
  params: {
    url: param.url('Base URL of the Zendesk account, e.g. https://example.zendesk.com'),
    email: param.text('Email address of the Zendesk agent the API token belongs to'),
    apiKey: param.secret('Zendesk API token'),
  },
  check: {
    kind: 'online',
    description:
      'GET {url}/api/v2/users/me.json with basic auth (email/token, API token); an anonymous answer means refused',
    async run(params, context) {
      const result = await call(context, {
        method: 'GET',
        url: joinUrl(params.url, '/api/v2/users/me.json'),
        headers: {
          accept: 'application/json',
          authorization: basicAuth(`${params.email}/token`, params.apiKey),
        },
      });
      if ('outcome' in result) return result.outcome;
      const outcome = judge(result.response, 'Zendesk');
      // Zendesk answers 200 with an anonymous user (id null) when the credentials are not accepted.
      if (outcome.status === 'ok' && !/"id"\s*:\s*\d/.test(result.response.body)) {
        return {
          status: 'failed',
          message: 'Zendesk answered as an anonymous user: the email or API token was not accepted',
          httpStatus: result.response.status,
        };
      }
      return outcome;
    },
  },
});
