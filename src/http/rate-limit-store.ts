/** A counter's current window: how many requests it counted, and when the window ends. */
export interface WindowCount {
  readonly count: number;
  /** Milliseconds until the window ends and the count starts again from zero. */
  readonly resetMs: number;
}

/**
 * Fixed-window request counters, in memory or in Redis. The window starts with a counter's first
 * request. Both methods resolve to undefined when counting failed (Redis away): the caller lets
 * the request through and claims no budget.
 */
export interface CounterStore {
  /** Counts one request against `key`. */
  hit(key: string, windowMs: number): Promise<WindowCount | undefined>;
  /** The count of `key`'s running window without counting (0 when none runs). */
  peek(key: string): Promise<WindowCount | undefined>;
}

/** Counters kept in memory: enough for every client address and key that is active at once. */
export const MEMORY_COUNTERS = 50_000;

/**
 * Counters in this process's memory. Past `maxEntries` counters, the one counted least recently
 * is dropped (a client cycling through more addresses than that gets fresh windows).
 */
export function memoryCounters(maxEntries = MEMORY_COUNTERS, now: () => number = Date.now): CounterStore {
  // A Map iterates in insertion order; re-inserting on every hit keeps the least recent first.
  const windows = new Map<string, { count: number; endsAt: number }>();
  return {
    async hit(key, windowMs) {
      const at = now();
      let window = windows.get(key);
      windows.delete(key);
      if (!window || window.endsAt <= at) window = { count: 0, endsAt: at + windowMs };
      window.count++;
      windows.set(key, window);
      if (windows.size > maxEntries) {
        const oldest = windows.keys().next();
        if (!oldest.done) windows.delete(oldest.value);
      }
      return { count: window.count, resetMs: window.endsAt - at };
    },
    async peek(key) {
      const at = now();
      const window = windows.get(key);
      if (!window || window.endsAt <= at) return { count: 0, resetMs: 0 };
      return { count: window.count, resetMs: window.endsAt - at };
    },
  };
}
