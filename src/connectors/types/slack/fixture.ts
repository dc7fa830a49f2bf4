import { isRecord } from '../../../is-record.js';
import { chatFake, jsonOf } from '../../chat/fixture.js';
import { defineFixture, GOOD } from '../../fixture.js';
import { slack } from './index.js';

export const fixture = defineFixture(slack, {
  example: {},
  refusedOffline: [{ url: 'https://hooks.slack.com/workflows/abc' }],
  delivery: {
    params: (base, { token }) => ({ url: `${base}/services/T0001/B0001/${token}` }),
    options: {},
    // An incoming webhook answers 200 "ok", or a status with a plain-text error code.
    fake: () =>
      chatFake(({ req, path, body, send }) => {
        const match = /^\/services\/T0001\/B0001\/([\w-]+)$/.exec(path);
        if (!match || req.method !== 'POST') return void send(404, 'no_service');
        if (match[1] !== GOOD.token) return void send(403, 'invalid_token');
        if (!req.headers['content-type']?.startsWith('application/json'))
          return void send(400, 'invalid_payload');
        const message = jsonOf(body);
        const text = isRecord(message) && typeof message.text === 'string' ? message.text : '';
        if (!text) return void send(400, 'no_text');
        if (text.length > 40_000) return void send(400, 'msg_too_long');
        send(200, 'ok');
        return text;
      }),
    cannotDeliver: {},
  },
});
