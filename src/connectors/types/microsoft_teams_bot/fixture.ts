import { isRecord } from '../../../is-record.js';
import { chatFake, jsonOf } from '../../chat/fixture.js';
import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { ADAPTIVE_CARD, TEAMS_MAX_BYTES } from './card.js';
import { microsoftTeamsBot } from './index.js';

const PATH = '/workflows/f00d/triggers/manual/paths/invoke';

/** The card of a Teams message, or what is wrong with the message. */
function cardOf(message: unknown): { card: Record<string, unknown> } | { problem: string } {
  if (!isRecord(message) || message.type !== 'message') return { problem: 'type must be "message"' };
  const attachments = message.attachments;
  if (!Array.isArray(attachments) || attachments.length !== 1) return { problem: 'one attachment expected' };
  const [attachment] = attachments;
  if (!isRecord(attachment) || attachment.contentType !== ADAPTIVE_CARD)
    return { problem: `the attachment's contentType must be ${ADAPTIVE_CARD}` };
  const card = attachment.content;
  if (!isRecord(card) || card.type !== 'AdaptiveCard' || typeof card.version !== 'string')
    return { problem: 'the content must be an AdaptiveCard with a version' };
  if (!Array.isArray(card.body) || card.body.length === 0) return { problem: 'the card has no body' };
  for (const element of card.body)
    if (!isRecord(element) || typeof element.type !== 'string')
      return { problem: 'a body element has no type' };
  return { card };
}

export const fixture = defineFixture(microsoftTeamsBot, {
  example: { url: 'https://example.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456' },
  delivery: {
    params: (base, { token }) => ({
      url: `${base}${PATH}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sig=${token}`,
    }),
    options: {},
    // A Workflows webhook: 202 Accepted once the flow is triggered; a wrong signature is refused.
    fake: () =>
      chatFake(({ req, path, query, body, send }) => {
        if (path !== PATH || req.method !== 'POST') return void send(404, NOT_FOUND_PAGE);
        if (query.get('sig') !== GOOD.token)
          return void send(401, {
            error: { code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated.' },
          });
        if (Buffer.byteLength(body) > TEAMS_MAX_BYTES)
          return void send(413, {
            error: { code: 'MessageTooLarge', message: 'Message size exceeds the limit.' },
          });
        const found = cardOf(jsonOf(body));
        if ('problem' in found)
          return void send(400, { error: { code: 'InvalidRequestContent', message: found.problem } });
        send(202, '');
        const [title] = found.card.body as Record<string, unknown>[];
        return typeof title?.text === 'string' ? title.text : '';
      }),
    cannotDeliver: {},
  },
});
