import { basicAuth, call, joinUrl, judge } from '../../checks/http.js';
import { quoteShort } from '../../checks/said.js';
import { defineConnectorType, param } from '../../define.js';

export const jira = defineConnectorType({
  id: 'jira',
  displayName: 'Jira',
  description: 'Opens and updates Jira issues (Jira Cloud or Data Center).',
  params: {
    url: param.url('Base URL of the Jira site, e.g. https://example.atlassian.net'),
    email: param.text('Email address of the Jira user the API token belongs to'),
    password: param.secret('Password, usually an Atlassian API token'),
  },
  check: {
    kind: 'online',
    description:
      'GET {url}/rest/api/3/myself with basic auth (email and API token); a locked account (CAPTCHA) is reported as such',
    async run(params, context) {
      const result = await call(context, {
        method: 'GET',
        url: joinUrl(params.url, '/rest/api/3/myself'),
        headers: {
          accept: 'application/json',
          authorization: basicAuth(params.email, params.password),
        },
      });
      if ('outcome' in result) return result.outcome;
      const reason = result.response.headers['x-seraph-loginreason'];
      const outcome = judge(result.response, 'Jira');
      if (outcome.status === 'failed' && reason && /CAPTCHA|DENIED/i.test(reason)) {
        return {
          ...outcome,
          message: `${outcome.message}; Jira says the login is ${quoteShort(reason, context.redactor)} (the account may be locked: sign in once in a browser)`,
        };
      }
      return outcome;
    },
  },
});
