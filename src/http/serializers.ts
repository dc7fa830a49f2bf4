import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyInstance } from 'fastify';

type SerializerFactory = ReturnType<typeof SerializerSelector>;
type Serializer = (data: unknown) => string;

/** Fastify's response serializers, compiled on first use, and a way to compile all of them now. */
export interface LazySerializers {
  /** For Fastify's `schemaController.compilersFactory.buildSerializer`. */
  readonly factory: SerializerFactory;
  /** Compiles every serializer not compiled yet (tests: every route's can be compiled); returns how many there are. */
  compileAll(): number;
  /** Compiles one serializer not compiled yet; false when none is left (warm-up.ts). */
  compileNext(): boolean;
}

/**
 * Fastify's response serializers (fast-json-stringify, one per route and 2xx status), each compiled
 * when it first serializes instead of all when the app gets ready: compiling them all was about a
 * fifth of the server's start-up. The first answer of a route with a status pays its compile, a
 * millisecond or a few, once per process; routes that share a schema object (a GET and its HEAD)
 * share one compile. The schemas are fixed in the code, and test/http/openapi.test.ts compiles
 * every one (compileAll), so none can fail at its first use that did not fail in the tests.
 */
export function lazySerializers(given?: SerializerFactory): LazySerializers {
  const pending = new Set<() => Serializer>();
  // fast-json-stringify (and the Ajv it validates with) is loaded by the first compile, not as the
  // server starts (scripts/lazy-requires.mjs defers the module; issue 15).
  let build = given;
  const factory: SerializerFactory = (externalSchemas, options) => {
    let compile: ReturnType<SerializerFactory> | undefined;
    const bySchema = new WeakMap<object, Serializer>();
    return (route) => {
      let serialize: Serializer | undefined;
      const compileOnce = (): Serializer => {
        if (serialize) return serialize;
        const schema = route.schema;
        const shared = typeof schema === 'object' && schema !== null ? bySchema.get(schema) : undefined;
        build ??= SerializerSelector();
        compile ??= build(externalSchemas, options);
        serialize = shared ?? compile(route);
        if (!shared && typeof schema === 'object' && schema !== null) bySchema.set(schema, serialize);
        pending.delete(compileOnce);
        return serialize;
      };
      pending.add(compileOnce);
      return (data) => (serialize ?? compileOnce())(data);
    };
  };
  return {
    factory,
    compileAll() {
      const all = pending.size;
      for (const compileOnce of [...pending]) compileOnce();
      return all;
    },
    compileNext() {
      const next = pending.values().next();
      if (next.done) return false;
      next.value();
      return true;
    },
  };
}

/** The lazy serializers of an app built by buildApp (tests compile them all). */
export const serializersOf = new WeakMap<FastifyInstance, LazySerializers>();
