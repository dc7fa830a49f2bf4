import { Type } from '@sinclair/typebox';
import { isRecord } from '../../../is-record.js';
import { chatView, clip, fitText, textParts } from '../../chat/format.js';
import { postChat } from '../../chat/post.js';
import { describeUnread } from '../../checks/answer.js';
import type { TargetResponse } from '../../checks/http.js';
import { quoteShort } from '../../checks/said.js';
import { defineConnectorType, param } from '../../define.js';
import type { DeliveryEvent, DeliveryOutcome, DeliveryRun } from '../../delivery.js';
import { readAnswer } from '../../delivery-http.js';
import { signedUrl } from './sign.js';

/** Characters of one markdown message at most: a bound of ours, well within what a robot takes. */
export const DINGTALK_MAX_TEXT = 5000;
const MAX_TITLE = 64;

/** errcodes of a robot that has sent too much (20 messages a minute per robot): wait and send again. */
export const DINGTALK_RATE_LIMITED = new Set([130101, 410100]);
/** DingTalk's "system busy": a transient failure. */
const BUSY = -1;
/** A minute: DingTalk counts a robot's messages per minute, and says nothing of when to come back. */
const RATE_LIMIT_WAIT_MS = 60_000;

/** What to do about an errcode, when we know. */
const HINTS: Readonly<Record<number, string>> = {
  300001: "check the url's access_token (the robot may have been removed)",
  310000:
    "check the robot's security settings: the signing secret, the custom keywords (one must appear in the message) or the IP allowlist",
  400013: 'the group of the robot is gone',
};

const DingTalkOptions = Type.Object(
  {
    isAtAll: Type.Optional(Type.Boolean({ description: 'mention everyone in the group' })),
    atMobiles: Type.Optional(
      Type.Array(Type.String({ pattern: '^\\+?[0-9][0-9-]{4,19}$' }), {
        maxItems: 20,
        description: 'mobile numbers of the members to mention',
      }),
    ),
  },
  { additionalProperties: false },
);

export function dingtalkMessage(
  event: DeliveryEvent,
  options: { readonly isAtAll?: boolean; readonly atMobiles?: readonly string[] },
): Record<string, unknown> {
  const view = chatView(event);
  const atMobiles = options.atMobiles ?? [];
  // A mobile is mentioned only where the text names it too.
  const mentions = atMobiles.map((mobile) => `@${mobile}`).join(' ');
  const parts = textParts(view, 'markdown');
  const text = fitText(parts, DINGTALK_MAX_TEXT - (mentions ? mentions.length + 2 : 0));
  return {
    msgtype: 'markdown',
    markdown: {
      title: clip(`${view.emoji} ${view.heading}: ${view.summary}`, MAX_TITLE),
      text: mentions ? `${text}\n\n${mentions}` : text,
    },
    at: { atMobiles, isAtAll: options.isAtAll ?? false },
  };
}

/** DingTalk answers 200 with `errcode` (0 = sent) and `errmsg`: a non-zero errcode is its refusal. */
function readErrcode(run: DeliveryRun, response: TargetResponse, usual: DeliveryOutcome): DeliveryOutcome {
  if (usual.result !== 'delivered') return usual;
  const redact = (text: string) => quoteShort(text, run.redactor);
  const reading = readAnswer(run, response);
  if (reading && 'unread' in reading)
    return {
      result: 'failed',
      message: `DingTalk answered with ${describeUnread(reading.unread, run.answers)}, which is not how a robot answers: check the url`,
      httpStatus: usual.httpStatus,
    };
  const answer = reading?.value;
  if (!isRecord(answer) || typeof answer.errcode !== 'number')
    return {
      result: 'failed',
      message: 'DingTalk answered without an errcode: check the url',
      httpStatus: usual.httpStatus,
    };
  const { errcode } = answer;
  if (errcode === 0) return { ...usual, message: 'DingTalk posted the message' };
  const said = `DingTalk refused the message: errcode ${errcode}${
    typeof answer.errmsg === 'string' ? ` (${redact(answer.errmsg)})` : ''
  }`;
  if (DINGTALK_RATE_LIMITED.has(errcode))
    return {
      result: 'retry',
      message: `${said}; the robot sends at most 20 messages a minute`,
      httpStatus: usual.httpStatus,
      retryAfterMs: RATE_LIMIT_WAIT_MS,
    };
  if (errcode === BUSY) return { result: 'retry', message: said, httpStatus: usual.httpStatus };
  const hint = HINTS[errcode];
  return { result: 'failed', message: hint ? `${said}; ${hint}` : said, httpStatus: usual.httpStatus };
}

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
  deliver: {
    kind: 'chat',
    description: `POST {url}&timestamp={ms}&sign={HMAC-SHA256 of "{ms}\\n{secret}"} with msgtype markdown (title, text of at most ${DINGTALK_MAX_TEXT} characters, the members named in atMobiles mentioned); errcode ≠ 0 fails, 130101/410100 (too many messages) retry after a minute`,
    options: DingTalkOptions,
    send({ event, options, params }, run) {
      run.redactor.addSecret(params.url);
      run.redactor.add(params.secret);
      return postChat(run, 'DingTalk', {
        url: signedUrl(params.url, params.secret, Date.now()),
        secretUrl: true,
        body: dingtalkMessage(event, options),
        read: (response, usual) => readErrcode(run, response, usual),
      });
    },
  },
});
