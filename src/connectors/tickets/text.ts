import type { DeliveryEvent, EventType } from '../delivery.js';

/**
 * One event as ticket targets show it: a title line, and a body made of the details, the links, the
 * images and the custom details. Each target takes the body in its own markup (plain text, GitHub
 * Markdown, TOPdesk's HTML, Jira's Atlassian Document Format); the pieces are made once, here.
 */

/** What an event is, as the first words of a comment: `Accepted: CPU on db-1 is at 97 %`. */
const VERB: Readonly<Record<EventType, string>> = {
  ALERT: 'Alerted again',
  ACCEPT: 'Accepted',
  COMMENT: 'Comment',
  RESOLVE: 'Resolved',
};

/** The most custom details shown, and the longest value of one. */
const MAX_FACTS = 50;
const MAX_FACT_VALUE = 500;

export interface EventText {
  /** The summary (or what stands in for it), on one line. */
  readonly title: string;
  readonly details: string | undefined;
  readonly links: readonly { readonly href: string; readonly text: string }[];
  readonly images: readonly { readonly src: string; readonly text: string }[];
  /** Alert key, priority and the custom details, as name and value. */
  readonly facts: readonly (readonly [string, string])[];
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `text` cut to at most `max` characters, ending in `…` when cut (never half a surrogate pair). */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let head = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  return `${head}…`;
}

function factValue(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return cut(oneLine(text), MAX_FACT_VALUE);
}

/** The pieces of an event's text. */
export function eventText(event: DeliveryEvent): EventText {
  const title = oneLine(event.summary ?? (event.alertKey ? `Alert ${event.alertKey}` : 'Alert'));
  const facts: [string, string][] = [];
  if (event.alertKey) facts.push(['Alert key', event.alertKey]);
  if (event.priority) facts.push(['Priority', event.priority]);
  for (const [name, value] of Object.entries(event.customDetails ?? {}).slice(0, MAX_FACTS))
    facts.push([cut(oneLine(name), 100), factValue(value)]);
  const details = event.details?.trim();
  return {
    title,
    details: details ? details : undefined,
    links: (event.links ?? []).map((link) => ({
      href: link.href,
      text: oneLine(link.text ?? '') || link.href,
    })),
    images: (event.images ?? []).map((image) => ({
      src: image.src,
      text: oneLine(image.alt ?? '') || image.src,
    })),
    facts,
  };
}

/** The first line of a comment on the ticket: what happened, then the summary. */
export function commentHeadline(text: EventText, eventType: EventType): string {
  return `${VERB[eventType]}: ${text.title}`;
}

/** Plain text: the details, then `Links:`, `Images:` and the facts as `name: value` lines. */
export function plainBody(text: EventText, headline?: string): string {
  const parts: string[] = [];
  if (headline) parts.push(headline);
  if (text.details) parts.push(text.details);
  if (text.links.length > 0)
    parts.push(
      ['Links:', ...text.links.map((l) => `- ${l.text === l.href ? l.href : `${l.text}: ${l.href}`}`)].join(
        '\n',
      ),
    );
  if (text.images.length > 0)
    parts.push(
      ['Images:', ...text.images.map((i) => `- ${i.text === i.src ? i.src : `${i.text}: ${i.src}`}`)].join(
        '\n',
      ),
    );
  if (text.facts.length > 0) parts.push(text.facts.map(([name, value]) => `${name}: ${value}`).join('\n'));
  return parts.join('\n\n');
}

/** `[`, `]`, `(`, `)` and `\` in a Markdown link text, escaped. */
function markdownLinkText(text: string): string {
  return text.replace(/[[\]()\\]/g, '\\$&');
}

/** GitHub-flavoured Markdown: the details as written, links and images as such, the facts as a list. */
export function markdownBody(text: EventText, headline?: string): string {
  const parts: string[] = [];
  if (headline) parts.push(`**${headline.replace(/\*/g, '\\*')}**`);
  if (text.details) parts.push(text.details);
  if (text.links.length > 0)
    parts.push(text.links.map((l) => `- [${markdownLinkText(l.text)}](<${l.href}>)`).join('\n'));
  if (text.images.length > 0)
    parts.push(text.images.map((i) => `![${markdownLinkText(i.text)}](<${i.src}>)`).join('\n'));
  if (text.facts.length > 0)
    parts.push(text.facts.map(([name, value]) => `- **${name.replace(/\*/g, '\\*')}:** ${value}`).join('\n'));
  return parts.join('\n\n');
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** HTML: the plain body escaped, its line breaks as `<br>` (TOPdesk's request and action fields). */
export function htmlBody(text: EventText, headline?: string): string {
  return escapeHtml(plainBody(text, headline)).replace(/\r?\n/g, '<br>');
}

/** A node of the Atlassian Document Format (Jira Cloud's rich text). */
export type AdfNode = {
  readonly type: string;
  readonly version?: number;
  readonly text?: string;
  readonly attrs?: Readonly<Record<string, unknown>>;
  readonly marks?: readonly AdfNode[];
  readonly content?: readonly AdfNode[];
};

function adfText(text: string, marks?: AdfNode[]): AdfNode {
  return { type: 'text', text, ...(marks ? { marks } : {}) };
}

/** A paragraph of text whose single line breaks are hard breaks; none when the text is empty. */
function adfParagraph(text: string, marks?: AdfNode[]): AdfNode[] {
  const content: AdfNode[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (i > 0) content.push({ type: 'hardBreak' });
    if (line !== '') content.push(adfText(line, marks));
  }
  return content.some((node) => node.type === 'text') ? [{ type: 'paragraph', content }] : [];
}

function adfList(items: readonly AdfNode[][]): AdfNode {
  return {
    type: 'bulletList',
    content: items.map((content) => ({ type: 'listItem', content: [{ type: 'paragraph', content }] })),
  };
}

/** The body as an Atlassian Document Format document (Jira REST API 3 descriptions and comments). */
export function adfBody(text: EventText, headline?: string): AdfNode {
  const content: AdfNode[] = [];
  if (headline) content.push(...adfParagraph(headline, [{ type: 'strong' }]));
  for (const paragraph of (text.details ?? '').split(/\r?\n\s*\r?\n/))
    content.push(...adfParagraph(paragraph));
  const linked = [
    ...text.links.map((l) => ({ href: l.href, text: l.text })),
    ...text.images.map((i) => ({ href: i.src, text: i.text })),
  ];
  if (linked.length > 0)
    content.push(adfList(linked.map((l) => [adfText(l.text, [{ type: 'link', attrs: { href: l.href } }])])));
  if (text.facts.length > 0)
    content.push(
      adfList(
        text.facts.map(([name, value]) => [
          adfText(`${name}: `, [{ type: 'strong' }]),
          adfText(value || '-'),
        ]),
      ),
    );
  if (content.length === 0) content.push(...adfParagraph(text.title));
  return { type: 'doc', version: 1, content };
}
