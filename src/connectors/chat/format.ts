import type { DeliveryEvent, EventType } from '../delivery.js';

/**
 * One event as every chat target shows it, before each target's own shape: a heading that says what
 * happened (and how urgent it is, in colour and emoji for targets without colour), the summary, the
 * details, the alert's facts (priority, alert key, custom details), its links and images. Each
 * target renders this (Discord as an embed, Teams as an Adaptive Card, the others as Markdown text)
 * within its own limits; see the renderers below and the types' folders.
 */
export interface ChatView {
  readonly eventType: EventType;
  /** `Alert`, `Accepted`, `Resolved`, `Comment`. */
  readonly heading: string;
  /** 🔴 (high alert), 🟠 (low alert), 👀 accepted, ✅ resolved, 💬 comment. */
  readonly emoji: string;
  /** 0xRRGGBB: red (high alert), orange (low alert), blue (accepted), green (resolved), grey (comment). */
  readonly colour: number;
  /** One line: the summary, else the alert key, else the heading. */
  readonly summary: string;
  readonly details: string | undefined;
  readonly facts: readonly Fact[];
  readonly links: readonly { readonly href: string; readonly text: string }[];
  readonly images: readonly { readonly src: string; readonly href?: string; readonly alt: string }[];
}

export interface Fact {
  readonly name: string;
  readonly value: string;
}

/** Custom details shown at most, and how long each name and value may be: a chat message is not a dump. */
export const MAX_FACTS = 20;
const MAX_FACT_NAME = 64;
const MAX_FACT_VALUE = 256;

const HEADINGS: Readonly<Record<EventType, string>> = {
  ALERT: 'Alert',
  ACCEPT: 'Accepted',
  RESOLVE: 'Resolved',
  COMMENT: 'Comment',
};

export const COLOURS = {
  high: 0xd32f2f,
  low: 0xf57c00,
  accepted: 0x1976d2,
  resolved: 0x388e3c,
  comment: 0x757575,
} as const;

function colourOf(event: DeliveryEvent): { colour: number; emoji: string } {
  switch (event.eventType) {
    case 'ALERT':
      return event.priority === 'LOW'
        ? { colour: COLOURS.low, emoji: '🟠' }
        : { colour: COLOURS.high, emoji: '🔴' };
    case 'ACCEPT':
      return { colour: COLOURS.accepted, emoji: '👀' };
    case 'RESOLVE':
      return { colour: COLOURS.resolved, emoji: '✅' };
    case 'COMMENT':
      return { colour: COLOURS.comment, emoji: '💬' };
  }
}

/** Control characters out, runs of white space one space: a summary or a fact stays one line. */
export function oneLine(text: string): string {
  return text
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * `text` cut to at most `max` UTF-16 code units (what JavaScript and most chat APIs count), ending in
 * `…` when cut, never between the halves of a surrogate pair.
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

function factValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function chatView(event: DeliveryEvent): ChatView {
  const heading = HEADINGS[event.eventType];
  const facts: Fact[] = [];
  if (event.priority) facts.push({ name: 'Priority', value: event.priority });
  if (event.alertKey) facts.push({ name: 'Alert key', value: oneLine(event.alertKey) });
  for (const [name, value] of Object.entries(event.customDetails ?? {})) {
    if (facts.length >= MAX_FACTS) break;
    facts.push({
      name: clip(oneLine(name), MAX_FACT_NAME) || '(unnamed)',
      value: clip(oneLine(factValue(value)), MAX_FACT_VALUE) || '(empty)',
    });
  }
  const details = event.details?.trim();
  return {
    eventType: event.eventType,
    heading,
    ...colourOf(event),
    summary: oneLine(event.summary ?? '') || oneLine(event.alertKey ?? '') || heading,
    details: details ? details : undefined,
    facts,
    links: (event.links ?? []).map((link) => ({
      href: link.href,
      text: oneLine(link.text ?? '') || link.href,
    })),
    images: (event.images ?? []).map((image) => ({
      src: image.src,
      ...(image.href ? { href: image.href } : {}),
      alt: oneLine(image.alt ?? '') || 'image',
    })),
  };
}

/** `ALERT` → `🔴 Alert: <summary>` (the title line of every text rendering). */
export function titleOf(view: ChatView): string {
  return `${view.emoji} ${view.heading}: ${view.summary}`;
}

/**
 * The Markdown dialects of the text targets:
 * - `markdown`: CommonMark as Mattermost, Teams' TextBlock and DingTalk take it (`**b**`, `[t](u)`);
 * - `slack`: Slack's mrkdwn (`*b*`, `<u|t>`); `&`, `<`, `>` escaped as Slack asks, so that text from
 *   an alert cannot mention `<!channel>` or break a link;
 * - `gchat`: Google Chat's text formatting (`*b*`, `<u|t>`), which has no escapes: a zero-width
 *   space after each `<` keeps text from an alert from mentioning `<users/all>` or making a link.
 */
export type Dialect = 'markdown' | 'slack' | 'gchat';

/** Text from the event shown as text, not as markup (the summary and facts; details stay Markdown). */
export function escapeText(text: string, dialect: Dialect): string {
  switch (dialect) {
    case 'slack':
      return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    case 'gchat':
      return text.replace(/</g, '<\u200b');
    case 'markdown':
      return defuseMentions(text.replace(/([\\`*_[\]<>#|~])/g, '\\$1'));
  }
}

/**
 * `@channel`, `@all`, `@here`, `@everyone` with a zero-width space after the `@`: Mattermost notifies
 * a whole channel for them, and text from an alert should not (the sender chooses mentions: DingTalk's
 * atMobiles). Looks the same; notifies no one.
 */
export function defuseMentions(text: string): string {
  return text.replace(/@(channel|all|here|everyone)\b/gi, '@\u200b$1');
}

function linkOf(href: string, text: string, dialect: Dialect): string {
  if (dialect === 'markdown')
    return `[${escapeText(text, dialect)}](${href.replace(/[()\s]/g, encodeURIComponent)})`;
  // `|` and `>` end the link's text: shown as look-alikes there.
  const label = escapeText(text, dialect).replace(/\|/g, '¦').replace(/>/g, '›');
  return `<${href.replace(/[|>]/g, encodeURIComponent)}|${label}>`;
}

function bold(text: string, dialect: Dialect): string {
  return dialect === 'markdown' ? `**${text}**` : `*${text}*`;
}

/** The parts of a text message, before they are fitted into a target's limit. */
export interface TextParts {
  readonly title: string;
  readonly details: string | undefined;
  /** Facts, links and images, one line each. */
  readonly tail: readonly string[];
}

export function textParts(view: ChatView, dialect: Dialect): TextParts {
  const details =
    view.details === undefined
      ? undefined
      : dialect !== 'markdown'
        ? escapeText(view.details, dialect)
        : defuseMentions(view.details);
  const tail = [
    ...view.facts.map(
      (fact) => `${bold(escapeText(fact.name, dialect), dialect)}: ${escapeText(fact.value, dialect)}`,
    ),
    ...view.links.map((link) => linkOf(link.href, link.text, dialect)),
    ...view.images.map((image) =>
      dialect !== 'markdown'
        ? linkOf(image.href ?? image.src, image.alt, dialect)
        : `![${escapeText(image.alt, dialect)}](${image.src.replace(/[()\s]/g, encodeURIComponent)})`,
    ),
  ];
  return { title: bold(escapeText(titleOf(view), dialect), dialect), details, tail };
}

/**
 * The parts joined into at most `max` characters: the title always (cut if it alone is too long),
 * then the facts, links and images while they fit, and the details in what is left, cut with `…`.
 * Details give way first: the facts and links are what a person acts on.
 */
export function fitText(parts: TextParts, max: number): string {
  const title = clip(parts.title, max);
  // Room kept for the start of the details, when there are any: a blank line and 64 characters.
  const keep = parts.details ? 2 + 64 : 0;
  let used = title.length;
  const tail: string[] = [];
  for (const line of parts.tail) {
    const cost = (tail.length === 0 ? 2 : 1) + line.length;
    if (used + cost + keep > max) break;
    tail.push(line);
    used += cost;
  }
  const room = max - used - 2;
  const details = parts.details && room > 1 ? clip(parts.details, room) : '';
  const text = [title, ...(details ? ['', details] : []), ...(tail.length ? ['', ...tail] : [])].join('\n');
  return clip(text, max);
}

/** The whole event as one text of at most `max` characters in a target's dialect. */
export function chatText(event: DeliveryEvent, dialect: Dialect, max: number): string {
  return fitText(textParts(chatView(event), dialect), max);
}
