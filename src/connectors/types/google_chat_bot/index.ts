import { Type } from '@sinclair/typebox';
import { isRecord } from '../../../is-record.js';
import { chatText } from '../../chat/format.js';
import { answerOf, postChat, posted } from '../../chat/post.js';
import { defineConnectorType, param } from '../../define.js';

/** The most characters of a Google Chat message's `text`. */
export const GOOGLE_CHAT_MAX_TEXT = 4096;

/**
 * The webhook URL with the alert's thread: every event of one alert key replies in one thread
 * (`threadKey`), which Google Chat starts when it does not exist yet.
 */
function threadedUrl(url: string, alertKey: string | undefined): string {
  if (!alertKey) return url;
  const target = new URL(url);
  target.searchParams.set('threadKey', alertKey);
  target.searchParams.set('messageReplyOption', 'REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD');
  return target.href;
}

export const googleChatBot = defineConnectorType({
  id: 'google_chat_bot',
  displayName: 'Google Chat (bot)',
  description:
    'Posts to Google Chat: through the installed ilert app in ilert (no credentials), through an incoming webhook here.',
  params: {
    url: param.url(
      'Optional Google Chat incoming-webhook URL (https://chat.googleapis.com/v1/spaces/…/messages?key=…&token=…); it embeds a token. Needed to deliver',
      { secret: true, required: false },
    ),
  },
  check: {
    kind: 'offline',
    reason:
      'a Google Chat incoming webhook can only be tested by posting a message, which Plugboard does not do; without a url there is nothing to check',
    validate: {
      description: 'a url, when given, is an incoming-webhook URL (/v1/spaces/{space}/messages with a token)',
      problem: (params) => {
        if (params.url === undefined) return undefined;
        const url = new URL(params.url);
        return /^\/v1\/spaces\/[^/]+\/messages$/.test(url.pathname) && url.searchParams.get('token')
          ? undefined
          : 'the url does not look like a Google Chat incoming webhook (https://chat.googleapis.com/v1/spaces/…/messages?key=…&token=…)';
      },
    },
  },
  deliver: {
    kind: 'chat',
    description: `POST {url}&threadKey={alertKey}&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD with \`text\` in Google Chat's formatting (one thread per alert; at most ${GOOGLE_CHAT_MAX_TEXT} characters)`,
    options: Type.Object({}, { additionalProperties: false }),
    missing: (params) =>
      params.url
        ? undefined
        : "this Google Chat connector has no incoming-webhook url: add a webhook in the space's Apps & integrations and set it as params.url (PUT /api/connectors/{id})",
    send({ event, params }, run) {
      const url = params.url;
      if (!url) return Promise.resolve({ result: 'failed', message: 'the connector has no url to post to' });
      run.redactor.addSecret(url);
      return postChat(run, 'Google Chat', {
        url: threadedUrl(url, event.alertKey),
        // The webhook URL itself is recorded above: the thread's parameters are not credentials.
        secretUrl: false,
        body: { text: chatText(event, 'gchat', GOOGLE_CHAT_MAX_TEXT) },
        read(response, usual) {
          const body = answerOf(run, response);
          const name = isRecord(body) && typeof body.name === 'string' ? body.name : undefined;
          return posted(
            usual,
            `Google Chat posted ${name ?? 'the message'}`,
            name ? { id: name } : undefined,
          );
        },
      });
    },
  },
});
