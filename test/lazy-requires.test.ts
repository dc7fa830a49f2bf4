import { describe, expect, it } from 'vitest';
import { lazyModuleSource } from '../scripts/lazy-requires.mjs';

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
