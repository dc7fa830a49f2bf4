import { isRecord } from '../../../is-record.js';
import { chatFake, jsonOf } from '../../chat/fixture.js';
import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { zoomChat } from './index.js';

const PATH = '/chat/webhooks/incomingwebhook/abc';

/** The head text of Zoom's full content shape, or what is wrong with it. */
function headOf(message: unknown): { head: string } | { problem: string } {
  const content = isRecord(message) ? message.content : undefined;
  if (!isRecord(content)) return { problem: 'content is required with format=full' };
  const { head, body } = content;
  if (!isRecord(head) || typeof head.text !== 'string' || !head.text)
    return { problem: 'content.head.text is required' };
  if (!Array.isArray(body)) return { problem: 'content.body must be an array' };
  for (const item of body) {
    if (!isRecord(item) || typeof item.type !== 'string') return { problem: 'a body item has no type' };
    if (item.type === 'message' && typeof item.text !== 'string')
      return { problem: 'a message item has no text' };
    if (item.type === 'fields' && !Array.isArray(item.items))
      return { problem: 'a fields item has no items' };
  }
  return { head: head.text };
}

export const fixture = defineFixture(zoomChat, {
  example: {
    url: 'https://integrations.zoom.us/chat/webhooks/incomingwebhook/abc',
    authorization: 'verification-token',
  },
  refusedOffline: [{ url: 'https://example.com/webhook' }],
  delivery: {
    params: (base, { token }) => ({ url: `${base}${PATH}`, authorization: token }),
    options: {},
    fake: () =>
      chatFake(({ req, path, query, body, send }) => {
        if (path !== PATH || req.method !== 'POST') return void send(404, NOT_FOUND_PAGE);
        if (req.headers.authorization !== GOOD.token)
          return void send(401, { code: 401, message: 'Invalid authorization token.' });
        if (query.get('format') !== 'full')
          return void send(400, { code: 300, message: 'expected format=full in this fake' });
        const found = headOf(jsonOf(body));
        if ('problem' in found) return void send(400, { code: 300, message: found.problem });
        send(200, '');
        return found.head;
      }),
    cannotDeliver: { url: `https://integrations.zoom.us${PATH}` },
  },
});
