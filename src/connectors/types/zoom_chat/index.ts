import { Type } from '@sinclair/typebox';
import { chatView, clip, oneLine, titleOf } from '../../chat/format.js';
import { postChat, posted } from '../../chat/post.js';
import { defineConnectorType, param } from '../../define.js';
import type { DeliveryEvent } from '../../delivery.js';

/** Bounds of ours for the parts of a Zoom message: a head line, and the text of one message item. */
export const ZOOM_MAX_HEAD = 128;
export const ZOOM_MAX_TEXT = 4000;

/**
 * One event in Zoom's "full" content shape: the head says what happened, the sub-head the alert
 * key; the body holds the details as a message, the facts as fields and every link and image as a
 * message that links to it. Zoom Team Chat shows plain text here, not Markdown.
 */
export function zoomMessage(event: DeliveryEvent): Record<string, unknown> {
  const view = chatView(event);
  const body: Record<string, unknown>[] = [];
  body.push({ type: 'message', text: clip(view.details ?? view.summary, ZOOM_MAX_TEXT) });
  if (view.facts.length)
    body.push({
      type: 'fields',
      items: view.facts.map((fact) => ({
        key: fact.name,
        value: fact.value,
        short: fact.value.length <= 40,
      })),
    });
  for (const link of view.links) body.push({ type: 'message', text: clip(link.text, 256), link: link.href });
  for (const image of view.images)
    body.push({ type: 'message', text: clip(image.alt, 256), link: image.href ?? image.src });
  return {
    content: {
      head: {
        text: clip(titleOf(view), ZOOM_MAX_HEAD),
        ...(event.alertKey
          ? { sub_head: { text: clip(`Alert key: ${oneLine(event.alertKey)}`, ZOOM_MAX_HEAD) } }
          : {}),
      },
      body,
    },
  };
}

/** The endpoint with `format=full`: Zoom then takes the content shape instead of plain text. */
function fullFormat(url: string): string {
  const target = new URL(url);
  target.searchParams.set('format', 'full');
  return target.href;
}

export const zoomChat = defineConnectorType({
  id: 'zoom_chat',
  displayName: 'Zoom Chat',
  description: 'Posts messages to a Zoom Team Chat channel through an incoming webhook.',
  params: {
    url: param.url('Zoom incoming-webhook endpoint URL', { secret: true }),
    authorization: param.secret('Verification token of the incoming webhook', { required: false }),
  },
  check: {
    kind: 'offline',
    reason: 'a Zoom incoming webhook can only be tested by posting a message, which Plugboard does not do',
    validate: {
      description: 'the URL is on zoom.us, where incoming webhooks live',
      problem: (params) =>
        /(^|\.)zoom\.us$/i.test(new URL(params.url).hostname)
          ? undefined
          : 'the URL is not on zoom.us, where Zoom incoming webhooks live',
    },
  },
  deliver: {
    kind: 'chat',
    description:
      'POST {url}?format=full with Authorization: {authorization} and content {head: {text, sub_head}, body: [message, fields, a linked message per link and image]}',
    options: Type.Object({}, { additionalProperties: false }),
    missing: (params) =>
      params.authorization
        ? undefined
        : "this Zoom Chat connector has no authorization: Zoom's incoming webhook takes its verification token (shown by /inc connect) in the Authorization header; set it as params.authorization (PUT /api/connectors/{id})",
    send({ event, params }, run) {
      const token = params.authorization;
      if (!token)
        return Promise.resolve({ result: 'failed', message: 'the connector has no verification token' });
      return postChat(run, 'Zoom', {
        url: fullFormat(params.url),
        secretUrl: true,
        headers: { authorization: token },
        body: zoomMessage(event),
        read: (_response, usual) => posted(usual, 'Zoom posted the message'),
      });
    },
  },
});
