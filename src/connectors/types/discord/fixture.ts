import { isRecord } from '../../../is-record.js';
import { chatFake, jsonOf } from '../../chat/fixture.js';
import { defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { discord } from './index.js';
import { EMBED_LIMITS } from './message.js';

/** What Discord says of a body beyond its limits or without content: its 50035 with the field, or 50006. */
function embedProblem(body: unknown): string | undefined {
  if (!isRecord(body)) return 'body is not a JSON object';
  const embeds = body.embeds;
  const content = typeof body.content === 'string' ? body.content : '';
  if (content.length > 2000) return 'content: Must be 2000 or fewer in length.';
  if (!Array.isArray(embeds) || embeds.length === 0)
    return content ? undefined : 'Cannot send an empty message';
  if (embeds.length > 10) return 'embeds: Must be 10 or fewer in length.';
  let total = 0;
  for (const embed of embeds) {
    if (!isRecord(embed)) return 'embeds.0: not an object';
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    const title = text(embed.title);
    const description = text(embed.description);
    if (title.length > EMBED_LIMITS.title) return 'embeds.0.title: Must be 256 or fewer in length.';
    if (description.length > EMBED_LIMITS.description)
      return 'embeds.0.description: Must be 4096 or fewer in length.';
    if (embed.color !== undefined && (typeof embed.color !== 'number' || embed.color > 0xffffff))
      return 'embeds.0.color: not a colour';
    const fields = Array.isArray(embed.fields) ? embed.fields : [];
    if (fields.length > EMBED_LIMITS.fields) return 'embeds.0.fields: Must be 25 or fewer in length.';
    total += title.length + description.length;
    for (const field of fields) {
      if (!isRecord(field) || typeof field.name !== 'string' || typeof field.value !== 'string')
        return 'embeds.0.fields.0: name and value are required';
      if (field.name.length === 0 || field.value.length === 0) return 'embeds.0.fields.0: must not be empty';
      if (field.name.length > EMBED_LIMITS.fieldName || field.value.length > EMBED_LIMITS.fieldValue)
        return 'embeds.0.fields.0: too long';
      total += field.name.length + field.value.length;
    }
    if (!title && !description && fields.length === 0) return 'Cannot send an empty message';
  }
  if (total > EMBED_LIMITS.total) return 'embeds: Embed size exceeds maximum size of 6000';
  return undefined;
}

export const fixture = defineFixture(discord, {
  example: { url: 'https://discord.com/api/webhooks/1234567890/webhook-token' },
  target: {
    params: (base, { token }) => ({ url: `${base}/api/webhooks/1234567890/${token}` }),
    // GET on the webhook URL answers with the webhook object; a deleted one is unknown.
    answer({ path, send }) {
      const match = /^\/api\/webhooks\/(\d+)\/([\w-]+)$/.exec(path);
      if (!match) return send(404, NOT_FOUND_PAGE);
      if (match[2] === GOOD.token)
        return send(200, { type: 1, id: match[1], name: 'alerts', channel_id: '199737254929760256' });
      if (match[2] === GOOD.lockedToken) return send(404, { message: 'Unknown Webhook', code: 10015 });
      return send(401, { message: 'Invalid Webhook Token', code: 50027 });
    },
    locked: /does not know this webhook.*Unknown Webhook.*deleted/,
  },
  delivery: {
    params: (base, { token }) => ({ url: `${base}/api/webhooks/1234567890/${token}` }),
    options: {},
    // Execute Webhook: POST with wait=true answers 200 and the message; without it 204.
    fake: () => {
      let next = 1;
      return chatFake(({ req, path, query, body, send }) => {
        const match = /^\/api\/webhooks\/(\d+)\/([\w-]+)$/.exec(path);
        if (!match || req.method !== 'POST') return void send(404, NOT_FOUND_PAGE);
        if (match[2] === GOOD.lockedToken) return void send(404, { message: 'Unknown Webhook', code: 10015 });
        if (match[2] !== GOOD.token) return void send(401, { message: 'Invalid Webhook Token', code: 50027 });
        if (query.get('wait') !== 'true')
          return void send(400, { message: 'expected wait=true in this fake' });
        const message = jsonOf(body);
        const problem = embedProblem(message);
        if (problem) return void send(400, { message: 'Invalid Form Body', code: 50035, errors: problem });
        const embed = isRecord(message) && Array.isArray(message.embeds) ? message.embeds[0] : undefined;
        const id = String(1_000_000 + next++);
        send(200, { id, type: 0, channel_id: '199737254929760256', webhook_id: match[1] });
        return isRecord(embed) ? `${embed.title ?? ''}\n${embed.description ?? ''}` : '';
      });
    },
  },
});
