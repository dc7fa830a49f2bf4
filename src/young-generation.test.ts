import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { capYoungGeneration, heapGrowthChosen, semiSpaceChosen } from './young-generation.js';

/** One semi-space's committed bytes (V8 reports the new space as both). */
const semiSpace = () =>
  (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2;

/** V8's largest semi-space on 64-bit machines. */
const V8_MAX = 16 * 1024 * 1024;

/**
 * Allocates about `megabytes` MiB in objects of which a share survives a few scavenges (what makes
 * V8 grow its new space), giving the event loop a turn between batches so that the observer runs.
 */
async function churn(megabytes: number): Promise<void> {
  let kept: object[] = [];
  for (let batch = 0; batch < megabytes * 8; batch++) {
    for (let i = 0; i < 2_000; i++) kept.push({ i, s: `row ${i}`, a: [i, batch] });
    if (kept.length > 40_000) kept = kept.slice(20_000);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('the young generation cap', () => {
  it('stops the semi-spaces growing past the cap, and gives growth back when stopped', async () => {
    const before = semiSpace();
    const stop = capYoungGeneration(before);
    try {
      await churn(96);
      expect(semiSpace()).toBeLessThanOrEqual(before);
    } finally {
      stop();
    }
    // Without the cap the same load grows them (unless they are at V8's maximum already).
    if (before < V8_MAX) {
      await churn(96);
      expect(semiSpace()).toBeGreaterThan(before);
    }
  }, 60_000);

  it('leaves a semi-space size given to node alone', () => {
    expect(semiSpaceChosen(['--max-semi-space-size=32'], undefined)).toBe(true);
    expect(semiSpaceChosen([], '--max-old-space-size=512 --min-semi-space-size=4')).toBe(true);
    expect(semiSpaceChosen([], '--max_semi_space_size=4')).toBe(true);
    expect(semiSpaceChosen(['--enable-source-maps'], '--max-old-space-size=512')).toBe(false);
    expect(semiSpaceChosen([], undefined)).toBe(false);
  });
});

describe('the old generation growth', () => {
  it('leaves a heap growing factor given to node alone', () => {
    expect(heapGrowthChosen(['--heap-growing-percent=50'], undefined)).toBe(true);
    expect(heapGrowthChosen([], '--max-old-space-size=512 --heap_growing_percent=10')).toBe(true);
    expect(heapGrowthChosen(['--max-semi-space-size=16'], '--max-old-space-size=512')).toBe(false);
    expect(heapGrowthChosen([], undefined)).toBe(false);
  });
});
