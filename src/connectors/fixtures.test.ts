import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadFixtures } from './fixture.js';
import { connectorTypes } from './registry.js';
import { parseConnectorInput } from './validate.js';

// Each type's fixture (types/<id>/fixture.ts) against its declaration: what the other tests take
// from a fixture is true of the type.

const fixtures = await loadFixtures();

describe('connector type fixtures', () => {
  it('every folder in types/ is a registered type, and every registered type has its folder', () => {
    const folders = readdirSync(new URL('./types/', import.meta.url), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(folders.sort()).toEqual(connectorTypes.map((type) => type.id).sort());
  });

  it.each(connectorTypes.map((type) => [type.id, type] as const))('%s', (id, type) => {
    const fixture = fixtures.get(id);
    if (!fixture) throw new Error(`no fixture for ${id}`);
    // Its example is a valid connector of the type, stored as given.
    expect(parseConnectorInput({ name: 'example', type: id, params: fixture.example }).params).toEqual(
      fixture.example,
    );
    // A fake target exactly for a checkable type.
    expect(fixture.target !== undefined).toBe(type.check.kind === 'online');
    // An offline validation passes the example and refuses what the fixture says it refuses, all of
    // which the schema accepts.
    const validate = type.check.kind === 'offline' ? type.check.validate : undefined;
    if (!validate) expect(fixture.refusedOffline).toBeUndefined();
    else {
      expect(validate.problem(fixture.example)).toBeUndefined();
      expect(fixture.refusedOffline?.length).toBeGreaterThan(0);
      for (const params of fixture.refusedOffline ?? []) {
        expect(parseConnectorInput({ name: 'refused', type: id, params }).params).toEqual(params);
        expect(validate.problem(params)).toMatch(/\S/);
      }
    }
  });

  it('stay test code: no module of the build imports one', () => {
    const built = readdirSync(new URL('../', import.meta.url), { recursive: true, encoding: 'utf8' }).filter(
      (path) => path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('fixture.ts'),
    );
    expect(built.length).toBeGreaterThan(50);
    for (const path of built) {
      const text = readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
      expect(text, path).not.toMatch(/from '[^']*fixture\.js'/);
    }
  });
});
