import { defineFixture } from '../../fixture.js';
import { dingtalk } from './index.js';

export const fixture = defineFixture(dingtalk, {
  example: { url: 'https://oapi.dingtalk.com/robot/send?access_token=abc', secret: 'SEC-signing-secret' },
  refusedOffline: [{ url: 'https://oapi.dingtalk.com/robot/send', secret: 's' }],
});
