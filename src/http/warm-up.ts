import type { FastifyBaseLogger } from 'fastify';

/**
 * How long after the server listens the warm-up begins: the start's own first requests (the
 * probes of whoever started it, the first /healthz) are answered before it, not behind it.
 */
export const WARM_UP_DELAY_MS = 100;

/** A warm-up under way; `cancel` stops it before its next step (the server closes). */
export interface WarmUp {
  cancel(): void;
  /** Resolves when every step ran, the warm-up failed or was cancelled. */
  readonly done: Promise<void>;
}

/**
 * Runs, after the server listens, what the first request of a kind would otherwise run while its
 * client waits: loading Ajv and fast-json-stringify (outside the bundle's code cache: compiled from
 * source) and compiling the answers' serializers, which the start leaves to their first use so that
 * it stays fast (issue 15). The first delivery accepted by a fresh server took 50-90 ms instead of
 * ~2, and every accept that arrived meanwhile waited behind it: at 500 events/s the first ~80
 * accepts of a fresh server were the slowest 1.6 % of all (issue 12's accept p99).
 *
 * One step per turn of the event loop (setImmediate), each a few milliseconds but the first (~40
 * ms, Ajv), so requests that arrive meanwhile wait for one step, not the whole warm-up. A step that
 * fails stops the warm-up with a warning: the same compile runs again at that request, and fails
 * there as before. `steps` is called when the warm-up begins, so its list can be made lazily.
 */
export function warmUp(
  steps: () => Iterable<() => unknown>,
  log: FastifyBaseLogger,
  delayMs = WARM_UP_DELAY_MS,
): WarmUp {
  let cancelled = false;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const run = () => {
    const began = performance.now();
    let count = 0;
    const iterator = steps()[Symbol.iterator]();
    const next = () => {
      immediate = undefined;
      if (cancelled) return finish();
      try {
        const step = iterator.next();
        if (step.done) {
          log.debug({ steps: count, ms: Math.round(performance.now() - began) }, 'warmed up');
          return finish();
        }
        step.value();
        count++;
      } catch (error) {
        log.warn({ err: error }, 'warming up failed; what it did not compile compiles at its first use');
        return finish();
      }
      immediate = setImmediate(next);
      immediate.unref();
    };
    next();
  };
  timer = setTimeout(() => {
    timer = undefined;
    run();
  }, delayMs);
  timer.unref();
  return {
    cancel() {
      cancelled = true;
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
        finish();
      }
      if (immediate) {
        clearImmediate(immediate);
        immediate = undefined;
        finish();
      }
    },
    done,
  };
}
