import { isRecord } from '../../../is-record.js';
import { chatFake, jsonOf } from '../../chat/fixture.js';
import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { dingtalk } from './index.js';
import { dingtalkSignature } from './sign.js';

/** DingTalk refuses a signature an hour after its timestamp. */
const HOUR = 60 * 60 * 1000;

export const fixture = defineFixture(dingtalk, {
  example: { url: 'https://oapi.dingtalk.com/robot/send?access_token=abc', secret: 'SEC-signing-secret' },
  refusedOffline: [{ url: 'https://oapi.dingtalk.com/robot/send', secret: 's' }],
  delivery: {
    params: (base, { token, password }) => ({
      url: `${base}/robot/send?access_token=${token}`,
      secret: password,
    }),
    options: { isAtAll: false, atMobiles: ['13800000000'] },
    // A custom robot: always HTTP 200, with errcode 0 when sent and DingTalk's errcode otherwise. It
    // checks the signature with the secret it knows (GOOD.password).
    fake: () =>
      chatFake(({ req, path, query, body, send }) => {
        if (path !== '/robot/send' || req.method !== 'POST') return void send(404, NOT_FOUND_PAGE);
        const refuse = (errcode: number, errmsg: string) => void send(200, { errcode, errmsg });
        if (query.get('access_token') !== GOOD.token) return refuse(300001, 'token is not exist');
        const timestamp = Number(query.get('timestamp'));
        if (!Number.isSafeInteger(timestamp) || Math.abs(Date.now() - timestamp) > HOUR)
          return refuse(310000, 'invalid timestamp');
        if (query.get('sign') !== dingtalkSignature(GOOD.password, timestamp))
          return refuse(310000, 'sign not match');
        const message = jsonOf(body);
        if (!isRecord(message) || message.msgtype !== 'markdown')
          return refuse(40035, 'msgtype must be markdown in this fake');
        const { markdown, at } = message;
        if (
          !isRecord(markdown) ||
          typeof markdown.title !== 'string' ||
          typeof markdown.text !== 'string' ||
          !markdown.text
        )
          return refuse(40035, 'markdown.title and markdown.text are required');
        if (
          at !== undefined &&
          (!isRecord(at) || !Array.isArray(at.atMobiles) || typeof at.isAtAll !== 'boolean')
        )
          return refuse(40035, 'at: atMobiles and isAtAll expected');
        // A mentioned member must be named in the text to be notified.
        for (const mobile of isRecord(at) && Array.isArray(at.atMobiles) ? at.atMobiles : [])
          if (!markdown.text.includes(`@${String(mobile)}`))
            return refuse(40035, `@${String(mobile)} not in the text`);
        send(200, { errcode: 0, errmsg: 'ok' });
        return markdown.text;
      }),
  },
});
