import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Parts of README.md made from what the code declares (the type tables from the registry, the
 * settings table from the settings declaration), so the README cannot drift from the code. Each
 * part sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
 * test/readme.test.ts fails when one differs from what its renderer makes, and
 * `UPDATE_README=1 npx vitest run test/readme.test.ts` rewrites them.
 */
export type Renderers = Readonly<Record<string, () => string>>;

export const README = new URL('../README.md', import.meta.url);

const MARKER = /<!-- generated:([a-z0-9-]+) -->\n([\s\S]*?)<!-- \/generated:\1 -->/g;

/** The generated parts of a README text, by name. */
export function generatedSections(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const match of text.matchAll(MARKER)) found.set(match[1] ?? '', match[2] ?? '');
  return found;
}

/** What a part's renderer makes now, ending in one line break. */
export function renderSection(render: () => string): string {
  const body = render();
  return body.endsWith('\n') ? body : `${body}\n`;
}

/** The text with every generated part replaced by what its renderer makes now. */
export function renderSections(text: string, renderers: Renderers): string {
  return text.replace(MARKER, (whole, name: string) => {
    const render = renderers[name];
    if (!render) return whole;
    return `<!-- generated:${name} -->\n${renderSection(render)}<!-- /generated:${name} -->`;
  });
}

export function readReadme(): string {
  return readFileSync(README, 'utf8');
}

export function writeReadme(text: string): void {
  writeFileSync(README, text);
}
