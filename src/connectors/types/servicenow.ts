import { defineConnectorType, param } from '../define.js';

export const servicenow = defineConnectorType({
  id: 'servicenow',
  displayName: 'ServiceNow',
  description: 'Opens and updates ServiceNow incidents.',
  params: {
    url: param.url('Base URL of the ServiceNow instance, e.g. https://example.service-now.com'),
    username: param.text('ServiceNow user name'),
    password: param.secret('Password of that user'),
  },
});
