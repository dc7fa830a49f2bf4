import { basicAuth, getAndJudge, joinUrl } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';

export const servicenow = defineConnectorType({
  id: 'servicenow',
  displayName: 'ServiceNow',
  description: 'Opens and updates ServiceNow incidents.',
  params: {
    url: param.url('Base URL of the ServiceNow instance, e.g. https://example.service-now.com'),
    username: param.text('ServiceNow user name'),
    password: param.secret('Password of that user'),
  },
  check: {
    kind: 'online',
    description: 'GET {url}/api/now/table/sys_user?sysparm_limit=1 with basic auth',
    run: (params, context) =>
      getAndJudge(context, 'ServiceNow', joinUrl(params.url, '/api/now/table/sys_user?sysparm_limit=1'), {
        authorization: basicAuth(params.username, params.password),
      }),
  },
});
