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
});
