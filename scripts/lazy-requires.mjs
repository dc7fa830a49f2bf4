// An esbuild plugin for scripts/bundle.mjs: some modules that dependencies require as they load
// are only used by a request or by an option Plugboard does not set (Fastify's HTTP/2 and HTTPS
// servers, @fastify/static's MIME table and HTTP errors, glob for wildcard: false, prom-client's
// push gateway and heap statistics). Each such require, in the one file named below, gets an
// object that loads the module the first time it is used: a start does not evaluate them
// (issue 15: start-up within 3 × a bare node:http server's; these were about 20 ms of CPU of it).
//
// A use is any property read, a call, `in`, a listing of the keys; a property set before the
// first use (@fastify/static sets `send.mime.default_type` as it loads) is kept and applied to the
// module when it loads. `functions` lists the exports read at load time (destructured), each then
// a function that loads the module when called. An edge that matches no require fails the build:
// a dependency that moved its require would otherwise silently cost the start its time again.

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative } from 'node:path';

/**
 * The requires to defer: `specifier` as required in the file whose path ends with `importer`.
 * `kind`: how it is required, `require-call` unless said (`import-statement`: an ES module's import
 * of a CommonJS module, whose `functions` are then its named imports). `constructors`: named
 * exports used only with `new` (a class can't be called: each is a function that loads the module
 * and returns a new instance of its class). `factory`: the module is a function called as its
 * importer loads, whose result, a function, is called later: the stand-in's result loads the
 * module and calls the real one's result.
 * @type {{ importer: string; specifier: string; functions?: string[]; constructors?: string[]; factory?: boolean; kind?: 'require-call' | 'import-statement' }[]}
 */
export const LAZY_REQUIRES = [
  { importer: 'node_modules/fastify/lib/server.js', specifier: 'node:http2' },
  { importer: 'node_modules/fastify/lib/server.js', specifier: 'node:https' },
  { importer: 'node_modules/@fastify/send/index.js', specifier: 'mime' },
  { importer: 'node_modules/@fastify/send/lib/send.js', specifier: 'mime' },
  { importer: 'node_modules/@fastify/send/lib/createHttpError.js', specifier: 'http-errors' },
  { importer: 'node_modules/@fastify/static/index.js', specifier: 'glob', functions: ['glob'] },
  { importer: 'node_modules/prom-client/lib/metrics/heapSpacesSizeAndUsed.js', specifier: 'v8' },
  // Fastify's request reads X-Forwarded-* through proxy-addr (and its ipaddr.js, whose tables are
  // built as it loads) only with the trustProxy option, which the server does not set.
  { importer: 'node_modules/fastify/lib/request.js', specifier: '@fastify/proxy-addr' },
  { importer: 'node_modules/prom-client/lib/pushgateway.js', specifier: 'https' },
  { importer: 'node_modules/prom-client/lib/pushgateway.js', specifier: 'zlib', functions: ['gzipSync'] },
  // Fastify's default validator compiler (@fastify/ajv-compiler, with its Ajv, ajv-formats and
  // fast-uri), required as Fastify is made, though it compiles only routes with body, query, params
  // or headers schemas, which ours have not (src/openapi/collect.ts keeps the response schemas):
  // the selector it makes (`ValidatorSelector()`) loads the module at its first call, if any.
  {
    importer: 'node_modules/fastify/lib/schema-controller.js',
    specifier: '@fastify/ajv-compiler',
    factory: true,
  },
  // Ours: Ajv, made at the first validator compiled (src/connectors/validate.ts,
  // src/deliveries/validate.ts), loaded then too: `new Ajv(…)` loads the module.
  {
    importer: 'dist/connectors/validate.js',
    specifier: 'ajv',
    constructors: ['Ajv'],
    kind: 'import-statement',
  },
  {
    importer: 'dist/deliveries/validate.js',
    specifier: 'ajv',
    constructors: ['Ajv'],
    kind: 'import-statement',
  },
  // Ours: fast-json-stringify's compiler (with its Ajv and fast-uri, ~150 KB of modules) is needed
  // at the first response serializer's compile, not at start (src/http/serializers.ts).
  {
    importer: 'dist/http/serializers.js',
    specifier: '@fastify/fast-json-stringify-compiler',
    functions: ['SerializerSelector'],
    kind: 'import-statement',
  },
];

/**
 * The CommonJS source of the module that stands for `specifier`: loads it on first use (see above).
 * @param {string} specifier
 * @param {string[] | undefined} functions
 * @param {string[] | undefined} [constructors]
 * @param {boolean | undefined} [factory]
 */
export function lazyModuleSource(specifier, functions, constructors, factory) {
  const load = `require(${JSON.stringify(specifier)})`;
  if (factory) {
    return `module.exports = function lazyFactory(...options) {
  let made;
  return function lazyMade(...args) {
    made ??= ${load}(...options);
    return made.apply(this, args);
  };
};`;
  }
  if (constructors) {
    return constructors
      .map(
        (name) => `exports.${name} = function ${name}(...args) { return new (${load}.${name})(...args); };`,
      )
      .join('\n');
  }
  if (functions) {
    return functions
      .map(
        (name) =>
          `exports.${name} = function ${name}(...args) { return ${load}.${name}.apply(this, args); };`,
      )
      .join('\n');
  }
  return `let loaded;
const pending = [];
function load() {
  if (loaded === undefined) {
    loaded = ${load};
    for (const [key, value] of pending.splice(0)) loaded[key] = value;
  }
  return loaded;
}
module.exports = new Proxy(() => {}, {
  apply: (_target, self, args) => Reflect.apply(load(), self, args),
  get: (_target, key) => Reflect.get(load(), key),
  set: (_target, key, value) => {
    if (loaded === undefined) pending.push([key, value]);
    else loaded[key] = value;
    return true;
  },
  has: (_target, key) => Reflect.has(load(), key),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_target, key) => {
    const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
    return descriptor && { ...descriptor, configurable: true };
  },
});
`;
}

/**
 * How esbuild resolves `args` itself (the module a stand-in loads): marked `real` so that this
 * file's own onResolve hooks let it through.
 * @param {import('esbuild').PluginBuild} build
 * @param {import('esbuild').OnResolveArgs} args
 */
function resolveReal(build, args) {
  return build.resolve(args.path, {
    kind: args.kind,
    importer: args.importer,
    resolveDir: args.resolveDir,
    pluginData: { real: true },
  });
}

/** @returns {import('esbuild').Plugin} */
export function lazyRequires(edges = LAZY_REQUIRES) {
  const specifiers = new Set(edges.map((edge) => edge.specifier));
  const escaped = [...specifiers].map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  const filter = new RegExp(`^(${escaped.join('|')})$`);
  return {
    name: 'lazy-requires',
    setup(build) {
      const seen = new Set();
      build.onResolve({ filter }, async (args) => {
        if (args.namespace !== 'file' || args.pluginData?.real) return undefined;
        const importer = args.importer.replaceAll('\\', '/');
        const edge = edges.find(
          (e) =>
            e.specifier === args.path &&
            importer.endsWith(e.importer) &&
            args.kind === (e.kind ?? 'require-call'),
        );
        if (!edge) return undefined;
        seen.add(edge);
        const real = await resolveReal(build, args);
        if (real.errors.length > 0) return { errors: real.errors };
        // One stand-in per module (and kind), whoever requires it: a property set through one
        // (say mime's default_type) is there for every user.
        const target = real.external ? args.path : real.path;
        const shown = real.external ? target : relative(process.cwd(), target).replaceAll('\\', '/');
        const variant = edge.factory
          ? '#factory'
          : edge.constructors
            ? `#new:${edge.constructors.join(',')}`
            : edge.functions
              ? `#${edge.functions.join(',')}`
              : '';
        return {
          path: `${shown}${variant}`,
          namespace: 'lazy-require',
          pluginData: {
            target,
            functions: edge.functions,
            constructors: edge.constructors,
            factory: edge.factory,
          },
        };
      });
      build.onLoad({ filter: /.*/, namespace: 'lazy-require' }, ({ pluginData }) => ({
        contents: lazyModuleSource(
          pluginData.target,
          pluginData.functions,
          pluginData.constructors,
          pluginData.factory,
        ),
        // An absolute path (a package's file) is bundled; a built-in module stays a require.
        ...(isAbsolute(pluginData.target) ? { resolveDir: dirname(pluginData.target) } : {}),
        loader: 'js',
      }));
      build.onEnd((result) => {
        if (result.errors.length > 0) return;
        const missed = edges.filter((edge) => !seen.has(edge));
        if (missed.length > 0) {
          throw new Error(
            missed
              .map((edge) => `lazy-requires: no require('${edge.specifier}') in ${edge.importer}`)
              .join('\n') + '\n(update LAZY_REQUIRES in scripts/lazy-requires.mjs)',
          );
        }
      });
    },
  };
}

/**
 * pg asks, as it loads, whether it runs in a Cloudflare Worker: on Node.js 20, which has no
 * `navigator`, by making a `Response`, whose first use loads Node's fetch (undici): ~40 ms of CPU
 * of a PostgreSQL server's start (issue 15). The bundle runs on Node.js alone: the answer is no.
 * A pg whose test reads otherwise fails the build.
 * @returns {import('esbuild').Plugin}
 */
export function nodeOnlyPg() {
  const test = 'function isCloudflareRuntime() {';
  return {
    name: 'node-only-pg',
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async ({ path }) => {
        const source = await readFile(path, 'utf8');
        if (!source.includes(test)) {
          throw new Error(`node-only-pg: no "${test}" in ${path}; update scripts/lazy-requires.mjs`);
        }
        return {
          contents: source.replace(test, `${test}\n  return false; // Node.js (scripts/lazy-requires.mjs)`),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * Fastify checks each plugin's `fastify` version range (`5.x` for @fastify/rate-limit, static and
 * under-pressure) with semver as the plugin is registered, and so loaded semver at every start: its
 * ~50 modules and the ~80 regular expressions it compiles as it loads, ~3-5 ms of CPU (issue 15),
 * for an answer that is a comparison of two numbers. The stand-in answers a plain version (1.2.3)
 * against a range `N.x` itself, as semver does (true exactly when the major versions are equal);
 * anything else (a prerelease, another form of range, the release-candidate test's `gt` and
 * `coerce`) goes to semver, loaded then.
 * @param {string} load the expression that loads semver
 */
export function pluginSemverSource(load) {
  return `let real;
const semver = () => (real ??= ${load});
const PLAIN = /^(0|[1-9]\\d{0,14})\\.(0|[1-9]\\d{0,14})\\.(0|[1-9]\\d{0,14})$/;
const MAJOR = /^(0|[1-9]\\d{0,14})\\.x$/;
exports.satisfies = function satisfies(version, range, options) {
  const plain = typeof version === 'string' ? PLAIN.exec(version) : null;
  const major = typeof range === 'string' ? MAJOR.exec(range) : null;
  if (plain && major) return plain[1] === major[1];
  return semver().satisfies(version, range, options);
};
exports.gt = function gt(...args) { return semver().gt(...args); };
exports.coerce = function coerce(...args) { return semver().coerce(...args); };
`;
}

/**
 * Fastify's plugin version check (node_modules/fastify/lib/plugin-utils.js) gets the stand-in of
 * pluginSemverSource instead of semver; a plugin-utils that no longer requires semver, or uses
 * more of it than satisfies, gt and coerce, fails the build.
 * @returns {import('esbuild').Plugin}
 */
export function fastifyPluginSemver() {
  const importer = /[\\/]node_modules[\\/]fastify[\\/]lib[\\/]plugin-utils\.js$/;
  return {
    name: 'fastify-plugin-semver',
    setup(build) {
      let seen = false;
      build.onLoad({ filter: importer }, async ({ path }) => {
        const source = await readFile(path, 'utf8');
        const uses = new Set(source.match(/\bsemver\.\w+/g) ?? []);
        const known = new Set(['semver.satisfies', 'semver.gt', 'semver.coerce']);
        if (!source.includes("require('semver')") || [...uses].some((use) => !known.has(use))) {
          throw new Error(
            `fastify-plugin-semver: ${path} no longer requires semver, or uses more of it than satisfies, gt and coerce (${[...uses].join(', ')}); update scripts/lazy-requires.mjs`,
          );
        }
        seen = true;
        return undefined;
      });
      build.onResolve({ filter: /^semver$/ }, async (args) => {
        if (args.pluginData?.real || !importer.test(args.importer)) return undefined;
        const real = await resolveReal(build, args);
        if (real.errors.length > 0) return { errors: real.errors };
        return {
          path: 'semver#fastify-plugin-check',
          namespace: 'fastify-plugin-semver',
          pluginData: { target: real.path },
        };
      });
      build.onLoad({ filter: /.*/, namespace: 'fastify-plugin-semver' }, ({ pluginData }) => ({
        contents: pluginSemverSource(`require(${JSON.stringify(pluginData.target)})`),
        resolveDir: dirname(pluginData.target),
        loader: 'js',
      }));
      build.onEnd((result) => {
        if (result.errors.length === 0 && !seen) {
          throw new Error(
            'fastify-plugin-semver: fastify/lib/plugin-utils.js was not bundled; update scripts/lazy-requires.mjs',
          );
        }
      });
    },
  };
}
