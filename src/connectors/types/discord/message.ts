import { chatView, clip, fitText, textParts, titleOf } from '../../chat/format.js';
import type { DeliveryEvent } from '../../delivery.js';

/** Discord's limits of one embed (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
export const EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  /** All the texts of all the embeds of one message together. */
  total: 6000,
} as const;

interface Field {
  readonly name: string;
  readonly value: string;
  readonly inline: boolean;
}

/**
 * One event as one Discord embed: the title says what happened (and links to the first link), the
 * colour how urgent it is, the description holds the details and the links (Markdown), the fields the
 * facts, the image the first image. Mentions in the text are not pinged (`allowed_mentions`).
 */
export function discordMessage(event: DeliveryEvent): Record<string, unknown> {
  const view = chatView(event);
  const title = clip(titleOf(view), EMBED_LIMITS.title);
  const fields: Field[] = view.facts.slice(0, EMBED_LIMITS.fields).map((fact) => ({
    name: clip(fact.name, EMBED_LIMITS.fieldName),
    value: clip(fact.value, EMBED_LIMITS.fieldValue),
    inline: fact.value.length <= 40,
  }));
  const fieldChars = () => fields.reduce((sum, field) => sum + field.name.length + field.value.length, 0);
  // The facts first, then as much of the details and links as the message's total leaves.
  while (fields.length > 0 && title.length + fieldChars() > EMBED_LIMITS.total - 256) fields.pop();
  const room = Math.min(EMBED_LIMITS.description, EMBED_LIMITS.total - title.length - fieldChars());
  const parts = textParts({ ...view, facts: [], images: view.images.slice(1) }, 'markdown');
  const description = fitText({ title: '', details: parts.details, tail: parts.tail }, room).replace(
    /^\n+/,
    '',
  );
  const image = view.images[0];
  const link = view.links[0];
  return {
    embeds: [
      {
        title,
        ...(link ? { url: link.href } : {}),
        color: view.colour,
        ...(description ? { description } : {}),
        ...(fields.length ? { fields } : {}),
        ...(image ? { image: { url: image.src } } : {}),
      },
    ],
    allowed_mentions: { parse: [] },
  };
}
