import { isRecord } from '../../../is-record.js';
import { chatFake, jsonOf } from '../../chat/fixture.js';
import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { GOOGLE_CHAT_MAX_TEXT, googleChatBot } from './index.js';

const googleError = (code: number, status: string, message: string) => ({ error: { code, message, status } });

export const fixture = defineFixture(googleChatBot, {
  example: {},
  refusedOffline: [{ url: 'https://chat.googleapis.com/v1/spaces/AAAA' }],
  delivery: {
    params: (base, { token }) => ({ url: `${base}/v1/spaces/AAAA/messages?key=chat-key&token=${token}` }),
    options: {},
    // spaces.messages.create through a webhook: the message resource, or Google's JSON error.
    fake: () => {
      let next = 1;
      return chatFake(({ req, path, query, body, send }) => {
        if (path !== '/v1/spaces/AAAA/messages' || req.method !== 'POST')
          return void send(404, NOT_FOUND_PAGE);
        if (query.get('key') !== 'chat-key' || query.get('token') !== GOOD.token)
          return void send(
            401,
            googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'),
          );
        const threadKey = query.get('threadKey');
        if (threadKey !== null && query.get('messageReplyOption') !== 'REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD')
          return void send(400, googleError(400, 'INVALID_ARGUMENT', 'threadKey without messageReplyOption'));
        const message = jsonOf(body);
        const text = isRecord(message) && typeof message.text === 'string' ? message.text : '';
        if (!text) return void send(400, googleError(400, 'INVALID_ARGUMENT', 'Message cannot be empty.'));
        if (text.length > GOOGLE_CHAT_MAX_TEXT)
          return void send(400, googleError(400, 'INVALID_ARGUMENT', 'Message text is too long.'));
        const name = `spaces/AAAA/messages/m${next++}`;
        send(200, { name, text, thread: { name: `spaces/AAAA/threads/${threadKey ?? name}` } });
        return text;
      });
    },
    cannotDeliver: {},
  },
});
