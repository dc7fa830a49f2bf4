import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DeliveryThread, EarlyThread } from './thread-host.js';

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

describe('EarlyThread', () => {
  /** A thread that says what it was told (each message's kind), and fails when told `fail`. */
  const teller = () =>
    entry(
      'teller',
      `const told = [];
      parentPort.postMessage({ kind: 'attempts', counts: [{ type: 'gated', outcome: String(workerData.gated), n: 1 }] });
      parentPort.on('message', (m) => {
        told.push(m.kind);
        if (m.kind === 'open') parentPort.postMessage({ kind: 'ready' });
        parentPort.postMessage({ kind: 'attempts', counts: [{ type: told.join(','), outcome: 'told', n: 1 }] });
        if (m.kind === 'stop') parentPort.postMessage({ kind: 'stopped' });
      });`,
    );

  it('is adopted by the app: what it said before is told then, and it is told to send unless held', async () => {
    const writeIntent = intent();
    const early = new EarlyThread({ entry: teller(), writeIntent });
    early.open();
    await early.booted; // its ready, before anyone adopted it
    const attempts: string[] = [];
    const thread = new DeliveryThread({
      entry: 'never used: the early thread is adopted',
      writeIntent,
      early,
      log,
      stopWaitMs: 5_000,
      onAttempt: (type, outcome) => attempts.push(`${type} ${outcome}`),
      onFailure: () => {
        throw new Error('not expected');
      },
    });
    thread.start(); // not held: the server listens already
    await thread.booted; // the ready it missed, told again
    await expect.poll(() => attempts.at(-1), { timeout: 5_000 }).toBe('open,send told');
    // Started gated: it was told to open first, then (adopted) to send.
    expect(attempts).toEqual(['gated true', 'open told', 'open,send told']);
    expect(early.take()).toBeUndefined(); // adopted once
    await thread.stop();
    expect(attempts.at(-1)).toBe('open,send,stop told');
  });

  it('stays held when adopted by a start before listening, and sends once told', async () => {
    const writeIntent = intent();
    const early = new EarlyThread({ entry: teller(), writeIntent });
    const attempts: string[] = [];
    const thread = new DeliveryThread({
      entry: 'never used',
      writeIntent,
      early,
      log,
      stopWaitMs: 5_000,
      onAttempt: (type) => attempts.push(type),
      onFailure: () => {
        throw new Error('not expected');
      },
    });
    thread.start({ held: true });
    early.open();
    await thread.booted;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(attempts).toEqual(['gated', 'open']);
    thread.send();
    await expect.poll(() => attempts.at(-1), { timeout: 5_000 }).toBe('open,send');
    await thread.stop();
  });

  it('a thread that failed before it was adopted makes the adopter fall back, once', async () => {
    const early = new EarlyThread({
      entry: entry('broken', `throw new Error('no database here');`),
      writeIntent: intent(),
    });
    await early.booted; // ended
    let failures = 0;
    const thread = new DeliveryThread({
      entry: 'never used',
      writeIntent: intent(),
      early,
      log,
      stopWaitMs: 5_000,
      onFailure: () => {
        failures++;
      },
    });
    thread.start();
    expect(failures).toBe(1);
    await thread.stop();
    expect(failures).toBe(1);
  });

  it('ends when cancelled, or when the app stops before adopting it; a start then makes its own', async () => {
    const cancelled = new EarlyThread({
      entry: entry('idle', 'setInterval(() => {}, 1000);'),
      writeIntent: intent(),
    });
    cancelled.cancel();
    await cancelled.booted;
    expect(cancelled.take()).toBeUndefined();

    let exited = false;
    const early = new EarlyThread({
      entry: entry('idle2', 'setInterval(() => {}, 1000);'),
      writeIntent: intent(),
    });
    const worker = (early as unknown as { worker: { once(event: 'exit', f: () => void): void } }).worker;
    worker.once('exit', () => {
      exited = true;
    });
    const thread = new DeliveryThread({
      entry: entry(
        'own',
        `parentPort.postMessage({ kind: 'ready' }); parentPort.on('message', (m) => { if (m.kind === 'stop') parentPort.postMessage({ kind: 'stopped' }); });`,
      ),
      writeIntent: intent(),
      early,
      log,
      stopWaitMs: 5_000,
      onFailure: () => {
        throw new Error('not expected');
      },
    });
    await thread.stop(); // never started: the early thread is ended all the same
    await expect.poll(() => exited, { timeout: 5_000 }).toBe(true);
    expect(thread.started).toBe(false);
  });
});
