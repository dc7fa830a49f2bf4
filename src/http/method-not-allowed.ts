import type { FastifyInstance } from 'fastify';
import { errorBody, sendError } from './error-handler.js';

/**
 * Answers 405 with an Allow header for a method that a known path does not support (Fastify
 * would say 404). Call it before the routes are registered; call the returned function after.
 */
export function collectRoutesForMethodNotAllowed(app: FastifyInstance): () => void {
  const methodsByUrl = new Map<string, Set<string>>();
  let collecting = true;
  app.addHook('onRoute', (route) => {
    if (!collecting) return;
    const methods = methodsByUrl.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    methodsByUrl.set(route.url, methods);
  });

  return () => {
    collecting = false;
    for (const [url, methods] of [...methodsByUrl]) {
      const allow = [...methods].sort().join(', ');
      const others = app.supportedMethods.filter((method) => !methods.has(method));
      if (others.length === 0) continue;
      app.route({
        method: others,
        url,
        config: { public: true },
        exposeHeadRoute: false,
        schema: { hide: true },
        handler: (request, reply) =>
          sendError(
            reply,
            errorBody(
              'METHOD_NOT_ALLOWED',
              `${request.method} is not supported on ${url}; allowed: ${allow}`,
            ),
            { Allow: allow },
          ),
      });
    }
  };
}
