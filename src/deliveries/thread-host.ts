import { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';

/** What tells a `plugboard` started in a worker thread to run the deliveries thread (cli.ts). */
export const DELIVERY_THREAD_ROLE = 'plugboard-deliveries-thread';

const YOUNG_GENERATION_MB = 16;

/**
 * Notices of accepted deliveries go to the thread at most once in this many milliseconds, with
 * every accept of that time; the thread claims on each at once. Each notice is a claim, a write
 * transaction of the thread's that the accepts' write groups wait for (up to 5 ms) when they meet
 * it, and a wake-up of the thread: at 500 accepts/s, 25 ms rather than 5 made the accepts' p50
 * 1.8-1.9 -> 1.4-1.5 ms and their p99 14.5-17.3 -> 11.4-14.2 ms (two alternating pairs, quiet),
 * for ~10 ms more from accept to the target (p50 4 -> 14.5 ms; issue 12 allows 250 ms at p99).
 */
export const NOTICE_EVERY_MS = 25;

/**
 * From the server's thread to the deliveries thread. `due`: connector id, account id, …; `open`:
 * a thread started gated (EarlyThread) may open the database; `send`: a thread started held
 * (before the server listens) begins claiming and sending.
 */
export type ThreadMessage =
  | { kind: 'notify'; due: (string | number)[] }
  | { kind: 'open' }
  | { kind: 'send' }
  | { kind: 'stop' };

/** From the deliveries thread to the server's. */
export type ThreadReport =
  | { kind: 'ready' }
  | { kind: 'stopped' }
  | { kind: 'attempts'; counts: { type: string; outcome: string; n: number }[] };

/** What the server's thread does with a delivery engine: tell it of new work, stop it. */
export interface DeliveryEngine {
  notify(connectorId: string, accountId: number): void;
  stop(): Promise<void>;
}

export interface DeliveryThreadOptions {
  /** bin/plugboard.js: the thread runs the same bundle as the server. */
  readonly entry: string;
  /** The server's connection's DatabaseOptions.writeIntent: the thread's connection yields to it. */
  readonly writeIntent: Int32Array;
  /** A thread made before the app (serve, for work pending at the start), which start() adopts. */
  readonly early?: EarlyThread;
}

/** What a Worker emitted, kept to be told again. */
type WorkerEvent =
  | { readonly event: 'message'; readonly value: ThreadReport }
  | { readonly event: 'error'; readonly value: unknown }
  | { readonly event: 'exit'; readonly value: number };

function makeWorker(options: DeliveryThreadOptions, data: { held: boolean; gated?: boolean }): Worker {
  return new Worker(options.entry, {
    workerData: { role: DELIVERY_THREAD_ROLE, writeIntent: options.writeIntent, ...data },
    // A young generation of 16 MB rather than V8's default (up to 48 MB, as the server's own):
    // the thread allocates per delivery, briefly, and the process's peak memory is the sum of
    // both isolates' (issue 12: a storm of 100,000 queued deliveries under 200 MB).
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
}

/**
 * A deliveries thread made as `serve` begins, when the database already holds work (a restart
 * with a queue), before the database is migrated and the keys checked. The thread's own start (a
 * second V8 isolate that compiles and runs the bundle: 150-600 ms of its CPU, measured, and most
 * of the time from the server listening to its first delivery when it began as the app was ready)
 * then runs beside the server's. It is gated: it opens the database only once `open` says the
 * server's checks passed; and held: it claims only once the app that adopts it
 * (DeliveryThread.start) says so. What it emits before it is adopted is kept and told then.
 */
export class EarlyThread {
  private readonly made: Worker;
  /** The thread until it is adopted or cancelled. */
  private worker: Worker | undefined;
  private cancelled = false;
  private readonly kept: WorkerEvent[] = [];
  private readonly keep = {
    message: (value: ThreadReport) => this.kept.push({ event: 'message', value }),
    error: (value: unknown) => this.kept.push({ event: 'error', value }),
    exit: (value: number) => this.kept.push({ event: 'exit', value }),
  };
  private resolveBooted: () => void = () => {};
  /** Resolves once the thread is ready (database opened, keys read) or ended, adopted or not. */
  readonly booted: Promise<void>;

  constructor(options: DeliveryThreadOptions) {
    this.booted = new Promise((resolve) => {
      this.resolveBooted = resolve;
    });
    const worker = makeWorker(options, { held: true, gated: true });
    worker.on('message', this.keep.message);
    worker.on('error', this.keep.error);
    worker.once('exit', this.keep.exit);
    worker.on('message', (report: ThreadReport) => {
      if (report.kind === 'ready') this.resolveBooted();
    });
    worker.once('exit', () => this.resolveBooted());
    this.made = worker;
    this.worker = worker;
  }

  /** The database is migrated and the keys are checked: the thread may open it (adopted or not). */
  open(): void {
    if (this.cancelled) return;
    const message: ThreadMessage = { kind: 'open' };
    this.made.postMessage(message);
  }

  /** Ends the thread unless it was adopted (a start that failed, or an app closed, before adopting it). */
  cancel(): void {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.cancelled = true;
    this.resolveBooted();
    void worker.terminate();
  }

  /** The thread and what it emitted so far, for the adopter, once; undefined after cancel. */
  take(): { worker: Worker; kept: WorkerEvent[] } | undefined {
    const worker = this.worker;
    if (!worker) return undefined;
    this.worker = undefined;
    worker.off('message', this.keep.message);
    worker.off('error', this.keep.error);
    worker.off('exit', this.keep.exit);
    return { worker, kept: this.kept.splice(0) };
  }
}

export interface DeliveryThreadSettings extends DeliveryThreadOptions {
  readonly log: FastifyBaseLogger;
  /** How long stop() waits for the thread to finish or release what is in flight. */
  readonly stopWaitMs: number;
  readonly onAttempt?: ((type: string, outcome: string) => void) | undefined;
  /** The thread failed (at its start or later): the caller sends deliveries some other way. */
  readonly onFailure: (error: unknown) => void;
}

/**
 * The server's side of the deliveries thread (thread.ts): starts it, passes it the notices of
 * accepted deliveries (batched, one message per turn of the event loop), counts its attempts into
 * the metrics, and stops it at shutdown, waiting for it to record or release what it holds.
 */
export class DeliveryThread implements DeliveryEngine {
  private worker: Worker | undefined;
  private due: (string | number)[] = [];
  private posting = false;
  /** When the last notice was posted (performance.now()). */
  private postedAt = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private readonly exited: Promise<void>;
  private resolveExited: () => void = () => {};
  private stoppedCleanly = false;
  private made = false;
  /** Started held: booting, not claiming until `send`. */
  private held = false;
  private resolveBooted: () => void = () => {};
  /**
   * Resolves once the thread has compiled the bundle and set itself up (its `ready`), or ended;
   * never, if it is never started.
   */
  readonly booted: Promise<void>;

  constructor(private readonly settings: DeliveryThreadSettings) {
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
    this.booted = new Promise((resolve) => {
      this.resolveBooted = resolve;
    });
  }

  /** Whether start() made the thread (it may have ended since). */
  get started(): boolean {
    return this.made;
  }

  /**
   * Makes the thread. `held`: it boots (compiles, opens the database, checks the keys) and claims
   * nothing until `send` (a start before the server listens: a start that fails sends nothing).
   */
  start(options: { held?: boolean } = {}): void {
    if (this.worker || this.stopped) return;
    this.made = true;
    // An early thread (serve) is adopted: it was started held, and is told to send below unless
    // this start is held too.
    const early = this.settings.early?.take();
    this.held = early !== undefined || options.held === true;
    const worker = early?.worker ?? makeWorker(this.settings, { held: this.held });
    this.worker = worker;
    const onMessage = (report: ThreadReport) => {
      if (report.kind === 'ready') this.resolveBooted();
      else if (report.kind === 'attempts') {
        const { onAttempt } = this.settings;
        if (onAttempt)
          for (const c of report.counts) for (let i = 0; i < c.n; i++) onAttempt(c.type, c.outcome);
      } else if (report.kind === 'stopped') {
        // Recorded or released, database closed: what keeps it alive now (keep-alive sockets) can go.
        this.stoppedCleanly = true;
        void worker.terminate();
      }
    };
    let failure: unknown;
    const onError = (error: unknown) => {
      failure = error;
    };
    const onExit = (code: number) => {
      this.worker = undefined;
      this.resolveBooted();
      // Ended inside a transaction (terminated, or failed): its connection is gone, and with it
      // the lock; the server's write groups must not wait for it (group-commit.ts).
      Atomics.store(this.settings.writeIntent, 1, 0);
      Atomics.notify(this.settings.writeIntent, 1);
      this.resolveExited();
      if (this.stopped && this.stoppedCleanly) return;
      const error = failure ?? new Error(`the deliveries thread exited (code ${code})`);
      if (this.stopped) {
        this.settings.log.warn({ err: error }, 'the deliveries thread ended badly while stopping');
        return;
      }
      this.stopped = true;
      this.settings.log.error(
        { err: error },
        'the deliveries thread failed; sending from the event loop instead',
      );
      this.settings.onFailure(error);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.once('exit', onExit);
    for (const { event, value } of early?.kept ?? []) {
      if (event === 'message') onMessage(value);
      else if (event === 'error') onError(value);
      else onExit(value);
    }
    if (early && options.held !== true) this.send();
  }

  /** A thread started held begins claiming and sending (nothing, if it was not held). */
  send(): void {
    if (!this.held || this.stopped) return;
    this.held = false;
    const message: ThreadMessage = { kind: 'send' };
    this.worker?.postMessage(message);
  }

  notify(connectorId: string, accountId: number): void {
    if (this.stopped) return;
    this.send();
    this.due.push(connectorId, accountId);
    if (this.posting) return;
    this.posting = true;
    const post = () => {
      this.posting = false;
      this.postedAt = performance.now();
      const due = this.due;
      this.due = [];
      const message: ThreadMessage = { kind: 'notify', due };
      this.worker?.postMessage(message);
    };
    // At the end of this turn, or NOTICE_EVERY_MS after the last notice: at a steady rate each
    // accept came in a turn of its own, and each notice woke the thread (a context switch on a
    // busy core for both threads) only for it to wait for the notices that followed.
    const wait = this.postedAt + NOTICE_EVERY_MS - performance.now();
    if (wait > 0) setTimeout(post, wait);
    else setImmediate(post);
  }

  /** Asks the thread to stop (it records or releases what it holds), waits for it, at most stopWaitMs. */
  async stop(): Promise<void> {
    this.settings.early?.cancel();
    if (this.stopped && !this.worker) return;
    this.stopped = true;
    const worker = this.worker;
    if (!worker) return;
    const message: ThreadMessage = { kind: 'stop' };
    worker.postMessage(message);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.settings.stopWaitMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      // Its claims end with their leases; the next server start takes them over.
      this.settings.log.warn(
        'the deliveries thread did not stop in time; its claims are left to their leases',
      );
      await worker.terminate();
    }
  }
}
