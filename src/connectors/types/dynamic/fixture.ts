import { defineFixture } from '../../fixture.js';
import { dynamic } from './index.js';

export const fixture = defineFixture(dynamic, {
  example: {
    url: 'https://actions.example.com/alert-action',
    responseUrl: 'https://actions.example.com/alert-action/response',
    authorization: 'Bearer action-token',
  },
});
