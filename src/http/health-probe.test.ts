import { describe, expect, it } from 'vitest';
import { createHealthProbe } from './health-probe.js';

function fakePing() {
  const state = { calls: 0, fail: false, pending: [] as (() => void)[] };
  const ping = () => {
    state.calls++;
    return new Promise<void>((resolve, reject) => {
      const fail = state.fail;
      state.pending.push(() => (fail ? reject(new Error('down')) : resolve()));
    });
  };
  const settle = () => {
    for (const done of state.pending.splice(0)) done();
  };
  return { state, ping, settle };
}

describe('the /healthz probe', () => {
  it('probes once for a flood of concurrent calls, then reuses the success for a second with its age', async () => {
    let clock = 1_000;
    const { state, ping, settle } = fakePing();
    const probe = createHealthProbe(ping, { now: () => clock });
    const flood = Array.from({ length: 500 }, () => probe());
    expect(state.calls).toBe(1);
    settle();
    const answers = await Promise.all(flood);
    expect(answers.every((a) => a.ok)).toBe(true);
    expect(answers.filter((a) => a.fresh)).toHaveLength(1);

    clock += 400;
    expect(await probe()).toEqual({ ok: true, ageMs: 400, fresh: false });
    clock += 599;
    expect(await probe()).toEqual({ ok: true, ageMs: 999, fresh: false });
    expect(state.calls).toBe(1);

    clock += 1;
    const next = probe();
    expect(state.calls).toBe(2);
    settle();
    expect(await next).toEqual({ ok: true, ageMs: 0, fresh: true });
  });

  it('does not reuse a failure: the next call probes again, and the first answer after recovery is ok', async () => {
    const clock = 1_000;
    const { state, ping, settle } = fakePing();
    const probe = createHealthProbe(ping, { now: () => clock });
    state.fail = true;
    const first = [probe(), probe()];
    settle();
    const [a, b] = await Promise.all(first);
    expect(a).toMatchObject({ ok: false, fresh: true });
    expect(b).toMatchObject({ ok: false, fresh: false });
    expect(state.calls).toBe(1);

    state.fail = false;
    const again = probe();
    expect(state.calls).toBe(2);
    settle();
    expect(await again).toMatchObject({ ok: true, fresh: true });
  });

  it('survives a ping that throws at once', async () => {
    const probe = createHealthProbe(() => {
      throw new Error('closed');
    });
    expect(await probe()).toMatchObject({ ok: false });
    expect(await probe()).toMatchObject({ ok: false, fresh: true });
  });
});
