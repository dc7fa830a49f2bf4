import { type ChatView, COLOURS, chatView, clip, escapeText, titleOf } from '../../chat/format.js';
import type { DeliveryEvent } from '../../delivery.js';

/** The most bytes of a message Teams takes (a card with its envelope: 28 KB). */
export const TEAMS_MAX_BYTES = 28 * 1024;
/** Links shown as buttons, at most: Teams shows a few and folds the rest away. */
const MAX_ACTIONS = 6;
export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';

/** The colour of the title, in Adaptive Cards' names. */
function colourName(view: ChatView): string {
  switch (view.eventType) {
    case 'ALERT':
      return view.colour === COLOURS.low ? 'Warning' : 'Attention';
    case 'ACCEPT':
      return 'Accent';
    case 'RESOLVE':
      return 'Good';
    case 'COMMENT':
      return 'Default';
  }
}

function card(view: ChatView, details: string | undefined, withImages: boolean): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      text: escapeText(titleOf(view), 'markdown'),
      size: 'Large',
      weight: 'Bolder',
      color: colourName(view),
      style: 'heading',
      wrap: true,
    },
  ];
  if (details) body.push({ type: 'TextBlock', text: details, wrap: true });
  if (view.facts.length)
    body.push({
      type: 'FactSet',
      facts: view.facts.map((fact) => ({ title: fact.name, value: fact.value })),
    });
  if (withImages)
    for (const image of view.images)
      body.push({
        type: 'Image',
        url: image.src,
        altText: image.alt,
        ...(image.href ? { selectAction: { type: 'Action.OpenUrl', url: image.href } } : {}),
      });
  const actions = view.links.slice(0, MAX_ACTIONS).map((link) => ({
    type: 'Action.OpenUrl',
    title: clip(link.text, 80),
    url: link.href,
  }));
  return {
    type: 'message',
    attachments: [
      {
        contentType: ADAPTIVE_CARD,
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body,
          ...(actions.length ? { actions } : {}),
        },
      },
    ],
  };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * One event as a Teams message with one Adaptive Card: the title coloured by event and priority,
 * the details (Markdown), the facts as a FactSet, the images, the links as buttons. Within Teams'
 * 28 KB: the details are cut first, then the images left out.
 */
export function teamsMessage(event: DeliveryEvent): Record<string, unknown> {
  const view = chatView(event);
  let details = view.details;
  let message = card(view, details, true);
  while (bytes(message) > TEAMS_MAX_BYTES && details) {
    const over = bytes(message) - TEAMS_MAX_BYTES;
    // Cut by more than the excess: one character can take up to 6 bytes once JSON-escaped.
    details = details.length > over + 64 ? clip(details, details.length - over - 64) : undefined;
    message = card(view, details, true);
  }
  if (bytes(message) > TEAMS_MAX_BYTES) message = card(view, undefined, false);
  return message;
}
