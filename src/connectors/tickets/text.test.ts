import { describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../delivery.js';
import { adfBody, commentHeadline, cut, eventText, htmlBody, markdownBody, plainBody } from './text.js';

const event: DeliveryEvent = {
  eventType: 'ALERT',
  summary: '  CPU on\ndb-1   at 97 % ',
  details: 'Load above 20.\n\nSince 10:00.',
  alertKey: 'db-1-cpu',
  priority: 'HIGH',
  links: [{ href: 'https://grafana.example.com/d/a', text: 'Dash [main]' }, { href: 'https://x.example/y' }],
  images: [{ src: 'https://img.example/p.png', alt: 'graph' }],
  customDetails: { host: 'db-1', load: { one: 20 }, long: 'x'.repeat(600) },
};

describe('eventText', () => {
  const text = eventText(event);

  it('makes the title one line, and stands in for a missing summary with the alert key', () => {
    expect(text.title).toBe('CPU on db-1 at 97 %');
    expect(eventText({ eventType: 'ALERT', alertKey: 'k' }).title).toBe('Alert k');
    expect(eventText({ eventType: 'ALERT' }).title).toBe('Alert');
  });

  it('lists alert key, priority and custom details as facts, values on one line and bounded', () => {
    expect(text.facts.slice(0, 4)).toEqual([
      ['Alert key', 'db-1-cpu'],
      ['Priority', 'HIGH'],
      ['host', 'db-1'],
      ['load', '{"one":20}'],
    ]);
    expect(text.facts[4]?.[1]).toHaveLength(500);
    const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i]));
    expect(eventText({ eventType: 'ALERT', customDetails: many }).facts).toHaveLength(50);
  });

  it('says what happened in a comment headline', () => {
    expect(commentHeadline(text, 'ACCEPT')).toBe('Accepted: CPU on db-1 at 97 %');
    expect(commentHeadline(text, 'ALERT')).toMatch(/^Alerted again: /);
    expect(commentHeadline(text, 'RESOLVE')).toMatch(/^Resolved: /);
  });
});

describe('bodies', () => {
  const text = eventText(event);

  it('plain text: details, links, images and facts', () => {
    const body = plainBody(text, 'Accepted: x');
    expect(body.split('\n\n')[0]).toBe('Accepted: x');
    expect(body).toContain('Links:\n- Dash [main]: https://grafana.example.com/d/a\n- https://x.example/y');
    expect(body).toContain('Images:\n- graph: https://img.example/p.png');
    expect(body).toContain('Alert key: db-1-cpu\nPriority: HIGH');
  });

  it('Markdown: link texts escaped, URLs in angle brackets, headline bold', () => {
    const body = markdownBody(text, 'Resolved: *now*');
    expect(body).toContain('**Resolved: \\*now\\***');
    expect(body).toContain('- [Dash \\[main\\]](<https://grafana.example.com/d/a>)');
    expect(body).toContain('![graph](<https://img.example/p.png>)');
  });

  it('HTML: escaped, line breaks as <br>', () => {
    const body = htmlBody(eventText({ eventType: 'ALERT', details: '<script>a & b</script>\nnext' }));
    expect(body).toContain('&lt;script&gt;a &amp; b&lt;/script&gt;<br>next');
    expect(body).not.toContain('<script>');
  });

  it('ADF: a doc of paragraphs (hard breaks within), a linked list and a facts list, no empty text node', () => {
    const doc = adfBody(text, 'Accepted: x');
    expect(doc).toMatchObject({ type: 'doc', version: 1 });
    const types = (doc.content ?? []).map((node) => node.type);
    expect(types).toEqual(['paragraph', 'paragraph', 'paragraph', 'bulletList', 'bulletList']);
    const link = doc.content?.[3]?.content?.[0]?.content?.[0]?.content?.[0];
    expect(link).toEqual({
      type: 'text',
      text: 'Dash [main]',
      marks: [{ type: 'link', attrs: { href: 'https://grafana.example.com/d/a' } }],
    });
    const texts = JSON.stringify(doc).match(/"text":""/g);
    expect(texts).toBeNull();
    expect(adfBody(eventText({ eventType: 'ALERT', summary: 's' })).content).toEqual([
      { type: 'paragraph', content: [{ type: 'text', text: 's' }] },
    ]);
  });
});

describe('cut', () => {
  it('keeps short text, cuts long text with an ellipsis, never half a surrogate pair', () => {
    expect(cut('abc', 3)).toBe('abc');
    expect(cut('abcdef', 4)).toBe('abc…');
    expect(cut('ab😀cd', 4)).toBe('ab…');
  });
});
