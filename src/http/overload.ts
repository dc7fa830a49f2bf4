import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';

/** When the server refuses work rather than letting requests queue up and time out. */
export interface OverloadSettings {
  /** Mean event-loop lag over a sample above which requests get 503. */
  readonly maxEventLoopDelayMs: number;
  /** How often the lag is sampled (and so, for how long a verdict holds). */
  readonly sampleIntervalMs: number;
  /** The `Retry-After` of the 503, in seconds. */
  readonly retryAfterSeconds: number;
}

/**
 * A saturating benchmark on a 2-core machine keeps the mean lag in the low milliseconds (work
 * is cut into small callbacks); a lag of a whole second means that every queued request
 * already waits that long, and answering 503 at once is kinder than a timeout.
 */
export const DEFAULT_OVERLOAD: OverloadSettings = {
  maxEventLoopDelayMs: 1_000,
  sampleIntervalMs: 1_000,
  retryAfterSeconds: 5,
};

/**
 * Routes the guard leaves alone: /healthz says whether the database answers, nothing else;
 * /metrics is what shows an operator the overload.
 */
const EXEMPT_ROUTES = new Set(['/healthz', '/metrics']);
const LOG_EVERY_MS = 10_000;

/** Answers 503 with Retry-After, in the API's error shape, while the event loop lags badly. */
export async function installOverloadGuard(
  app: FastifyInstance,
  settings: OverloadSettings = DEFAULT_OVERLOAD,
): Promise<void> {
  let lastLogged = 0;
  await app.register(underPressure, {
    maxEventLoopDelay: settings.maxEventLoopDelayMs,
    sampleInterval: settings.sampleIntervalMs,
    retryAfter: settings.retryAfterSeconds,
    pressureHandler: (request, _reply, type, value) => {
      if (EXEMPT_ROUTES.has(request.routeOptions.url ?? '')) return;
      const now = Date.now();
      if (now - lastLogged >= LOG_EVERY_MS) {
        lastLogged = now;
        request.log.warn(
          { pressure: type, value, limit: settings.maxEventLoopDelayMs },
          'overloaded: answering 503 until the event loop catches up',
        );
      }
      return Promise.reject(
        errors.unavailable(
          `the server is overloaded; retry in ${settings.retryAfterSeconds} s`,
          settings.retryAfterSeconds,
        ),
      );
    },
  });
}
