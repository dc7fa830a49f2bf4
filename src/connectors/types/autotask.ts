import { call, describeResponse, joinUrl, value } from '../checks/http.js';
import { defineConnectorType, param } from '../define.js';

export const autotask = defineConnectorType({
  id: 'autotask',
  displayName: 'Autotask',
  description: 'Opens and updates Autotask tickets.',
  params: {
    url: param.url('Autotask API zone URL, e.g. https://webservices5.autotask.net'),
    email: param.text('User name of the Autotask API user'),
    password: param.secret('Secret of the Autotask API user'),
  },
  check: {
    kind: 'online',
    description: 'GET {url}/atservicesrest/v1.0/zoneInformation?user=… (the zone lookup for the user)',
    async run(params, context) {
      const user = value(params, 'email');
      const result = await call(context, {
        method: 'GET',
        url: joinUrl(
          value(params, 'url'),
          `/atservicesrest/v1.0/zoneInformation?user=${encodeURIComponent(user)}`,
        ),
        headers: { accept: 'application/json' },
      });
      if ('outcome' in result) return result.outcome;
      const { response } = result;
      const zone = /"url"\s*:\s*"([^"]+)"/.exec(response.body)?.[1];
      if (response.status === 200 && zone) {
        return {
          status: 'ok',
          message: `Autotask knows the user, in zone ${zone}; the secret itself can only be checked with an API integration code`,
          httpStatus: 200,
        };
      }
      return {
        status: 'failed',
        message: `Autotask does not know this user (${describeResponse(response)})`,
        httpStatus: response.status,
      };
    },
  },
});
