import { describe, expect, it } from 'vitest';
import { memoryCounters } from './rate-limit-store.js';

describe('memory counters', () => {
  it('count in fixed windows that start with the first request', async () => {
    let now = 1_000;
    const counters = memoryCounters(10, () => now);
    expect(await counters.peek('a')).toEqual({ count: 0, resetMs: 0 });
    expect(await counters.hit('a', 60_000)).toEqual({ count: 1, resetMs: 60_000 });
    now += 20_000;
    expect(await counters.hit('a', 60_000)).toEqual({ count: 2, resetMs: 40_000 });
    expect(await counters.peek('a')).toEqual({ count: 2, resetMs: 40_000 });
    expect(await counters.hit('b', 60_000)).toEqual({ count: 1, resetMs: 60_000 });
    now += 40_000;
    expect(await counters.peek('a')).toEqual({ count: 0, resetMs: 0 });
    expect(await counters.hit('a', 60_000)).toEqual({ count: 1, resetMs: 60_000 });
  });

  it('drop the counter counted least recently past their size', async () => {
    const counters = memoryCounters(2, () => 0);
    await counters.hit('a', 60_000);
    await counters.hit('b', 60_000);
    await counters.hit('a', 60_000);
    await counters.hit('c', 60_000);
    expect(await counters.peek('a')).toMatchObject({ count: 2 });
    expect(await counters.peek('b')).toMatchObject({ count: 0 });
    expect(await counters.peek('c')).toMatchObject({ count: 1 });
  });
});
