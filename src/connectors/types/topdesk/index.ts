import { basicAuth, call, describeResponse, getAndJudge, joinUrl } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';

export const topdesk = defineConnectorType({
  id: 'topdesk',
  displayName: 'TOPdesk',
  description: 'Opens and updates TOPdesk incidents.',
  params: {
    url: param.url('Base URL of the TOPdesk instance, e.g. https://example.topdesk.net'),
    username: param.text('TOPdesk operator login name'),
    password: param.secret('Application password of that operator'),
  },
  check: {
    kind: 'online',
    description: 'GET {url}/tas/api/version, then GET {url}/tas/api/incidents?page_size=1 with basic auth',
    async run(params, context) {
      const base = params.url;
      const version = await call(context, {
        method: 'GET',
        url: joinUrl(base, '/tas/api/version'),
        headers: { accept: 'application/json' },
      });
      if ('outcome' in version) return version.outcome;
      if (version.response.status === 404) {
        return {
          status: 'failed',
          message: `no TOPdesk API at this URL (${describeResponse(version.response)}); check the base URL`,
          httpStatus: 404,
        };
      }
      return getAndJudge(context, 'TOPdesk', joinUrl(base, '/tas/api/incidents?page_size=1'), {
        authorization: basicAuth(params.username, params.password),
      });
    },
  },
});
