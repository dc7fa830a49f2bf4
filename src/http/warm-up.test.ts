import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { warmUp } from './warm-up.js';

function fakeLog() {
  return { debug: vi.fn(), warn: vi.fn() } as unknown as FastifyBaseLogger & {
    debug: ReturnType<typeof vi.fn>;
    warn: ReturnType<typeof vi.fn>;
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('warmUp', () => {
  it('runs its steps after the delay, one per turn of the event loop', async () => {
    const log = fakeLog();
    const ran: number[] = [];
    const warming = warmUp(() => [1, 2, 3].map((n) => () => ran.push(n)), log, 20);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ran).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // Begun: one step so far, or a few, never all at once in one turn.
    const seen = ran.length;
    await turn();
    expect(ran.length).toBeLessThanOrEqual(seen + 1);
    await warming.done;
    expect(ran).toEqual([1, 2, 3]);
    expect(log.debug).toHaveBeenCalledWith(expect.objectContaining({ steps: 3 }), 'warmed up');
  });

  it('stops at a step that fails, with a warning', async () => {
    const log = fakeLog();
    const ran: string[] = [];
    const warming = warmUp(
      () => [
        () => ran.push('a'),
        () => {
          throw new Error('bad schema');
        },
        () => ran.push('c'),
      ],
      log,
      0,
    );
    await warming.done;
    expect(ran).toEqual(['a']);
    expect(log.warn).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.objectContaining({ message: 'bad schema' }) }),
      expect.stringContaining('warming up failed'),
    );
  });

  it('does nothing once cancelled, before or during its steps', async () => {
    const log = fakeLog();
    const before = vi.fn();
    const early = warmUp(() => [before], log, 10);
    early.cancel();
    await early.done;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(before).not.toHaveBeenCalled();

    const ran: number[] = [];
    let cancel = () => {};
    const during = warmUp(
      () => [
        () => ran.push(1),
        () => {
          ran.push(2);
          cancel();
        },
        () => ran.push(3),
      ],
      log,
      0,
    );
    cancel = () => during.cancel();
    await during.done;
    await turn();
    expect(ran).toEqual([1, 2]);
  });
});
