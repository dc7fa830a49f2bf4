import { describe, expect, it } from 'vitest';
import type { Params } from '../src/connectors/checks/types.js';
import { loadFixtures } from '../src/connectors/fixture.js';
import { checksTable, deliveriesTable, paramsTable } from '../src/connectors/readme.js';
import {
  generatedSections,
  type Renderers,
  readReadme,
  renderSection,
  renderSections,
  writeReadme,
} from './readme-sections.js';
import { settingsTable } from './readme-settings.js';

/** Connectors that cannot deliver, by type, from the fixtures: what the 422 column quotes. */
const cannotDeliver = new Map<string, Params>();
for (const [id, fixture] of await loadFixtures()) {
  if (fixture.delivery?.cannotDeliver) cannotDeliver.set(id, fixture.delivery.cannotDeliver);
}

/**
 * Every generated part of README.md and the function that makes it. A new generated part is a
 * marker pair in the README and a line here.
 */
const renderers: Renderers = {
  'connector-types': paramsTable,
  'credential-checks': checksTable,
  deliveries: () => deliveriesTable(cannotDeliver),
  settings: settingsTable,
};

describe('README.md', () => {
  const text = readReadme();

  if (process.env.UPDATE_README === '1') {
    it('is rewritten from the code (UPDATE_README=1)', () => {
      writeReadme(renderSections(text, renderers));
    });
    return;
  }

  it('has a renderer for every generated part, and every renderer has its part', () => {
    expect([...generatedSections(text).keys()].sort()).toEqual(Object.keys(renderers).sort());
  });

  it.each(Object.keys(renderers))(
    'part "%s" is what the code declares (UPDATE_README=1 npx vitest run test/readme.test.ts rewrites it)',
    (name) => {
      const render = renderers[name];
      if (!render) throw new Error(`no renderer for ${name}`);
      expect(generatedSections(text).get(name)).toBe(renderSection(render));
    },
  );
});
