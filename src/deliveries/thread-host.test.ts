import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DeliveryThread } from './thread-host.js';

const dir = mkdtempSync(join(tmpdir(), 'plugboard-thread-host-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for bin/plugboard.js in the thread: `body` runs with parentPort and workerData. */
function entry(name: string, body: string): string {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(path, `import { parentPort, workerData } from 'node:worker_threads';\n${body}\n`);
  return path;
}

const log = pino({ level: 'silent' });
const intent = () => new Int32Array(new SharedArrayBuffer(8));

describe('DeliveryThread', () => {
  it('passes notices in one message a turn, counts attempts, and stops once the thread says it has', async () => {
    const attempts: string[] = [];
    const thread = new DeliveryThread({
      entry: entry(
        'echo',
        `parentPort.on('message', (m) => {
          if (m.kind === 'notify') parentPort.postMessage({ kind: 'attempts', counts: [{ type: 'dynamic', outcome: 'delivered', n: m.due.length / 2 }] });
          else if (m.kind === 'stop') parentPort.postMessage({ kind: 'stopped' });
        });
        parentPort.postMessage({ kind: 'ready', role: workerData.role });`,
      ),
      writeIntent: intent(),
      log,
      stopWaitMs: 5_000,
      onAttempt: (type, outcome) => attempts.push(`${type} ${outcome}`),
      onFailure: () => {
        throw new Error('not expected');
      },
    });
    let booted = false;
    void thread.booted.then(() => {
      booted = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(booted).toBe(false); // not started: never
    thread.start();
    await thread.booted; // its ready
    thread.notify('con_a', 1);
    thread.notify('con_b', 2);
    thread.notify('con_c', 1);
    await expect.poll(() => attempts.length, { timeout: 5_000 }).toBe(3);
    await thread.stop();
    // Stopped: no more notices go out, and stopping again is nothing.
    thread.notify('con_d', 1);
    await thread.stop();
    expect(attempts).toEqual(['dynamic delivered', 'dynamic delivered', 'dynamic delivered']);
  });

  it('falls back when the thread fails, once', async () => {
    let failures = 0;
    const thread = new DeliveryThread({
      entry: entry('throws', `throw new Error('no database here');`),
      writeIntent: intent(),
      log,
      stopWaitMs: 5_000,
      onFailure: () => {
        failures++;
      },
    });
    thread.start();
    await thread.booted; // ended without a ready: booted all the same (serve tunes the heap then)
    await expect.poll(() => failures, { timeout: 5_000 }).toBe(1);
    thread.notify('con_a', 1);
    await thread.stop();
    expect(failures).toBe(1);
  });

  it('stops a thread that does not answer after stopWaitMs, and clears its in-transaction mark', async () => {
    const flag = intent();
    const thread = new DeliveryThread({
      entry: entry('deaf', `Atomics.store(workerData.writeIntent, 1, 1); setInterval(() => {}, 1000);`),
      writeIntent: flag,
      log,
      stopWaitMs: 200,
      onFailure: () => {},
    });
    thread.start();
    await expect.poll(() => Atomics.load(flag, 1), { timeout: 5_000 }).toBe(1);
    const began = Date.now();
    await thread.stop();
    expect(Date.now() - began).toBeLessThan(3_000);
    expect(Atomics.load(flag, 1)).toBe(0);
  });
});
