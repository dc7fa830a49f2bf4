import { defineConnectorType, param } from '../../define.js';

export const dingtalk = defineConnectorType({
  id: 'dingtalk',
  displayName: 'DingTalk',
  description: 'Posts messages to a DingTalk group through a custom robot webhook.',
  params: {
    url: param.url('DingTalk robot webhook URL; it embeds the access token', { secret: true }),
    secret: param.secret('Signing secret of the robot; it signs each message'),
  },
  check: {
    kind: 'offline',
    reason: 'a DingTalk robot can only be tested by posting a message, which Plugboard does not do',
    validate: {
      description: 'the URL is a robot webhook URL (it has an access_token parameter)',
      problem: (params) =>
        new URL(params.url).searchParams.get('access_token')
          ? undefined
          : 'the URL has no access_token parameter, which DingTalk robot webhook URLs carry',
    },
  },
});
