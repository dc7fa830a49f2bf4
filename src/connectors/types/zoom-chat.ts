import { defineConnectorType, param } from '../define.js';

export const zoomChat = defineConnectorType({
  id: 'zoom_chat',
  displayName: 'Zoom Chat',
  description: 'Posts messages to a Zoom Team Chat channel through an incoming webhook.',
  params: {
    url: param.url('Zoom incoming-webhook endpoint URL', { secret: true }),
    authorization: param.secret('Verification token of the incoming webhook', { required: false }),
  },
});
