import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { lazyModuleSource, pluginSemverSource } from '../scripts/lazy-requires.mjs';

/** Runs a stand-in module as the bundle would, with a require that counts its loads of `real`. */
function standIn(real: unknown, functions?: string[], constructors?: string[], factory?: boolean) {
  let loads = 0;
  const module = { exports: {} as Record<string, unknown> };
  const require = () => {
    loads++;
    return real;
  };
  new Function('module', 'exports', 'require', lazyModuleSource('real', functions, constructors, factory))(
    module,
    module.exports,
    require,
  );
  return { exports: module.exports, loads: () => loads };
}

describe('the stand-ins of scripts/lazy-requires.mjs', () => {
  it('load the module at its first use, once', () => {
    const real = { getType: (path: string) => (path.endsWith('.js') ? 'text/javascript' : null) };
    const { exports, loads } = standIn(real);
    expect(loads()).toBe(0);
    const mime = exports as { getType: (path: string) => string | null };
    expect(mime.getType('a.js')).toBe('text/javascript');
    expect('getType' in exports).toBe(true);
    expect(Object.keys(exports)).toEqual(['getType']);
    expect(loads()).toBe(1);
  });

  it('keep a property set before the first use and give it to the module when it loads', () => {
    const real: Record<string, unknown> = { default_type: undefined };
    const { exports, loads } = standIn(real);
    exports.default_type = 'application/octet-stream';
    expect(loads()).toBe(0);
    expect(exports.default_type).toBe('application/octet-stream');
    expect(real.default_type).toBe('application/octet-stream');
    exports.default_type = 'text/plain';
    expect(real.default_type).toBe('text/plain');
  });

  it('call a module that is a function, with its arguments', () => {
    const { exports, loads } = standIn((status: number, message: string) => ({ status, message }));
    expect(loads()).toBe(0);
    expect((exports as unknown as (s: number, m: string) => unknown)(404, 'gone')).toEqual({
      status: 404,
      message: 'gone',
    });
    expect(loads()).toBe(1);
  });

  it('with `functions`, export functions that load the module when called', () => {
    const real = { glob: async (pattern: string) => [pattern] };
    const { exports, loads } = standIn(real, ['glob']);
    const { glob } = exports as { glob: (pattern: string) => Promise<string[]> };
    expect(loads()).toBe(0);
    return glob('**').then((found) => {
      expect(found).toEqual(['**']);
      expect(loads()).toBe(1);
    });
  });
  it('with `constructors`, export functions that load the module and return an instance of its class', () => {
    class Real {
      constructor(readonly options: { strict: boolean }) {}
    }
    const { exports, loads } = standIn({ Real }, undefined, ['Real']);
    const Made = (exports as { Real: typeof Real }).Real;
    expect(loads()).toBe(0);
    const made = new Made({ strict: true });
    expect(made).toBeInstanceOf(Real);
    expect(made.options).toEqual({ strict: true });
    expect(loads()).toBe(1);
  });

  it("with `factory`, call a function module's result only when that is called, made with the factory's arguments", () => {
    const made: unknown[] = [];
    const real = (options?: unknown) => {
      made.push(options);
      return (a: number, b: number) => a + b;
    };
    const { exports, loads } = standIn(real, undefined, undefined, true);
    const selector = (exports as unknown as (options?: unknown) => (a: number, b: number) => number)({
      x: 1,
    });
    expect(loads()).toBe(0);
    expect(selector(1, 2)).toBe(3);
    expect(selector(2, 3)).toBe(5);
    expect(loads()).toBe(1);
    expect(made).toEqual([{ x: 1 }]);
  });
});

describe("the stand-in for semver in Fastify's plugin version check", () => {
  /** The stand-in as the bundle runs it, with a require that counts its loads of semver. */
  function semverStandIn() {
    let loads = 0;
    const module = { exports: {} as Record<string, (...args: unknown[]) => unknown> };
    const load = () => {
      loads++;
      return semver;
    };
    new Function('module', 'exports', 'load', pluginSemverSource('load()'))(module, module.exports, load);
    return { exports: module.exports, loads: () => loads };
  }

  it('answers a plain version against N.x as semver does, without loading it', () => {
    const { exports, loads } = semverStandIn();
    const versions = [
      '5.12.8',
      '5.0.0',
      '4.29.1',
      '6.0.0',
      '0.0.0',
      '10.1.2',
      '1.2.3',
      '999999999999999.1.1',
    ];
    const ranges = ['5.x', '4.x', '6.x', '0.x', '10.x', '1.x', '999999999999999.x'];
    for (const version of versions) {
      for (const range of ranges) {
        for (const includePrerelease of [false, true]) {
          expect(exports.satisfies?.(version, range, { includePrerelease }), `${version} ${range}`).toBe(
            semver.satisfies(version, range, { includePrerelease }),
          );
        }
      }
    }
    expect(loads()).toBe(0);
  });

  it('gives semver everything else', () => {
    const { exports, loads } = semverStandIn();
    const cases: [string, string][] = [
      ['5.13.0-rc.1', '5.x'],
      ['05.1.2', '5.x'],
      ['v5.1.2', '5.x'],
      [' 5.1.2', '5.x'],
      ['5.1.2', '>=5'],
      ['5.1.2', '5.X'],
      ['5.1.2', '^5.0.0'],
      ['1234567890123456.0.0', '1234567890123456.x'],
      ['5.1.2', '4.x || 5.x'],
    ];
    for (const [version, range] of cases) {
      for (const includePrerelease of [false, true]) {
        expect(exports.satisfies?.(version, range, { includePrerelease }), `${version} ${range}`).toBe(
          semver.satisfies(version, range, { includePrerelease }),
        );
      }
    }
    expect(exports.gt?.('5.1.0', '5.0.0')).toBe(true);
    expect(exports.coerce?.('5.x')).toEqual(semver.coerce('5.x'));
    expect(loads()).toBeGreaterThan(0);
  });
});
