import { defineConnectorType, param } from '../define.js';

export const jira = defineConnectorType({
  id: 'jira',
  displayName: 'Jira',
  description: 'Opens and updates Jira issues (Jira Cloud or Data Center).',
  params: {
    url: param.url('Base URL of the Jira site, e.g. https://example.atlassian.net'),
    email: param.text('Email address of the Jira user the API token belongs to'),
    password: param.secret('Password, usually an Atlassian API token'),
  },
});
