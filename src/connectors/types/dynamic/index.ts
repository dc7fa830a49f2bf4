import { defineConnectorType, param } from '../../define.js';

export const dynamic = defineConnectorType({
  id: 'dynamic',
  displayName: 'Dynamic webhook',
  description: 'Calls your own web service for dynamic alert actions.',
  params: {
    url: param.url('URL of the action-request endpoint of your web service'),
    responseUrl: param.url('Optional URL the action response is sent to', { required: false }),
    authorization: param.secret('Optional value of the HTTP Authorization header sent to your service', {
      required: false,
    }),
  },
  check: {
    kind: 'offline',
    reason: 'calling your action endpoint could trigger an action, so Plugboard does not call it to test it',
  },
});
