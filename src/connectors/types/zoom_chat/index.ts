import { defineConnectorType, param } from '../../define.js';

export const zoomChat = defineConnectorType({
  id: 'zoom_chat',
  displayName: 'Zoom Chat',
  description: 'Posts messages to a Zoom Team Chat channel through an incoming webhook.',
  params: {
    url: param.url('Zoom incoming-webhook endpoint URL', { secret: true }),
    authorization: param.secret('Verification token of the incoming webhook', { required: false }),
  },
  check: {
    kind: 'offline',
    reason: 'a Zoom incoming webhook can only be tested by posting a message, which Plugboard does not do',
    validate: {
      description: 'the URL is on zoom.us, where incoming webhooks live',
      problem: (params) =>
        /(^|\.)zoom\.us$/i.test(new URL(params.url).hostname)
          ? undefined
          : 'the URL is not on zoom.us, where Zoom incoming webhooks live',
    },
  },
});
