import { isRecord } from '../../../is-record.js';
import { chatFake, jsonOf } from '../../chat/fixture.js';
import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { MATTERMOST_MAX_TEXT, mattermost } from './index.js';

/** Mattermost's webhook keys are letters and digits. */
const keyOf = (token: string) => token.replace(/[^A-Za-z0-9]/g, '');

export const fixture = defineFixture(mattermost, {
  example: { url: 'https://chat.example.com/hooks/xyz123abc' },
  refusedOffline: [{ url: 'https://chat.example.com/some/page' }],
  delivery: {
    params: (base, { token }) => ({ url: `${base}/hooks/${keyOf(token)}` }),
    options: {},
    // POST /hooks/<key> with {text}: 200 "ok"; an unknown key or an empty text 400 with Mattermost's error.
    fake: () =>
      chatFake(({ req, path, body, send }) => {
        const match = /^\/hooks\/([A-Za-z0-9]+)$/.exec(path);
        if (!match || req.method !== 'POST') return void send(404, NOT_FOUND_PAGE);
        const error = (id: string, message: string) =>
          void send(400, { id, message, detailed_error: '', status_code: 400 });
        if (match[1] !== keyOf(GOOD.token))
          return error('web.incoming_webhook.invalid.app_error', 'Invalid webhook.');
        const message = jsonOf(body);
        const text = isRecord(message) && typeof message.text === 'string' ? message.text : '';
        if (!text) return error('web.incoming_webhook.text.app_error', 'No text specified.');
        if (text.length > MATTERMOST_MAX_TEXT)
          return error('model.post.is_valid.msg.app_error', 'Invalid message.');
        send(200, 'ok');
        return text;
      }),
  },
});
