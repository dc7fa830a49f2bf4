import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * The semi-space size a server's young generation stops growing at: 8 MiB, half of V8's 16 MiB on
 * 64-bit machines. Under a steady load V8 doubles the semi-spaces (1, 2, 4, 8, 16 MiB) each time
 * as many bytes as one holds have survived scavenges since it last grew, so any sustained load
 * takes them to the maximum, and both semi-spaces stay resident: 32 MiB of a server's RSS, where
 * 16 MiB took the throughput bench's load for about the same CPU per request (issue 15).
 */
export const SEMI_SPACE_CAP_BYTES = 8 * 1024 * 1024;

/** V8's own growth factor (its `--semi-space-growth-factor` default). */
const V8_GROWTH_FACTOR = 2;

/** Whether the process was started with a semi-space size of its own (then it is left alone). */
export function semiSpaceChosen(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const chosen = (flag: string) => /^--(max|min)[-_]semi[-_]space[-_]size\b/.test(flag);
  return execArgv.some(chosen) || (nodeOptions ?? '').split(/\s+/).some(chosen);
}

/** The committed size of one semi-space: V8 reports the new space as both. */
function semiSpaceBytes(): number {
  for (const space of getHeapSpaceStatistics())
    if (space.space_name === 'new_space') return space.space_size / 2;
  return 0;
}

/**
 * Caps the young generation's semi-spaces at `capBytes` while the process runs. V8 reads
 * `--max-semi-space-size` only when it makes the heap, but reads `--semi-space-growth-factor` each
 * time it grows the new space: after every garbage collection the factor is set to 1 (no growth)
 * once a semi-space has reached the cap, and back to V8's 2 when V8 shrank it below (an idle
 * server's new space shrinks). Growth needs a semi-space's worth of survivors since the last
 * growth, many scavenges, so the observer (called soon after each collection) stops it at the cap.
 * Returns a function that stops watching and gives V8 its factor back.
 */
export function capYoungGeneration(capBytes = SEMI_SPACE_CAP_BYTES): () => void {
  let factor = V8_GROWTH_FACTOR;
  const check = () => {
    const wanted = semiSpaceBytes() >= capBytes ? 1 : V8_GROWTH_FACTOR;
    if (wanted === factor) return;
    factor = wanted;
    setFlagsFromString(`--semi-space-growth-factor=${factor}`);
  };
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  check();
  return () => {
    observer.disconnect();
    if (factor !== V8_GROWTH_FACTOR) setFlagsFromString(`--semi-space-growth-factor=${V8_GROWTH_FACTOR}`);
    factor = V8_GROWTH_FACTOR;
  };
}

/**
 * How far V8 lets the old generation grow past what its last full collection left live before it
 * collects it again: 20 %, where V8 picks 10 % to 300 % by how fast it collects against how fast
 * the program allocates, and at a server's start (a small heap that collects fast) picks the most.
 * Under the throughput bench's load the first full collection after the start came only when the
 * old generation had grown ~30 MiB past its 11 MiB live, all of it resident at the peak (issue 15).
 */
export const OLD_GENERATION_GROWTH_PERCENT = 20;

/** Whether the process was started with a heap growing factor of its own (then it is left alone). */
export function heapGrowthChosen(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const chosen = (flag: string) => /^--heap[-_]growing[-_]percent\b/.test(flag);
  return execArgv.some(chosen) || (nodeOptions ?? '').split(/\s+/).some(chosen);
}

/**
 * Sets V8's heap growing factor to 1 + `percent` / 100, which V8 reads each time a full collection
 * sets the next one's limit. V8's flags are the process's: the deliveries and checkpoint threads'
 * heaps grow by it too.
 */
export function limitOldGenerationGrowth(percent = OLD_GENERATION_GROWTH_PERCENT): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
