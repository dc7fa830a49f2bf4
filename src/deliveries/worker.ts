import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import { Redactor } from '../connectors/checks/redact.js';
import type { CheckContext, CheckRun, Params } from '../connectors/checks/types.js';
import { UnvalidatedParamsError } from '../connectors/define.js';
import type {
  DeliveryDefinition,
  DeliveryEvent,
  DeliveryInput,
  DeliveryOutcome,
  Ticket,
} from '../connectors/delivery.js';
import type { RegisteredType } from '../connectors/registry.js';
import type { OutboundClient } from '../outbound/types.js';
import type { StoredConnector } from '../store/connector-row.js';
import type { AttemptRecord, ClaimedDelivery, DeliveryStore } from '../store/delivery-store.js';
import { isoOf } from '../store/ids.js';
import { DEFAULT_SCHEDULE, describeGivingUp, nextAttemptAt, type RetrySchedule } from './schedule.js';

/** The delivery of a type: its declared one, unless a test gives another. */
export type DeliveryOf = (type: RegisteredType) => DeliveryDefinition<Params, CheckRun> | undefined;

export const declaredDelivery: DeliveryOf = (type) => type.deliver;

export interface WorkerSettings {
  /** Deliveries of one connector in flight at once in this process. */
  readonly concurrency: number;
  /** One attempt's deadline, all its calls together. */
  readonly timeoutMs: number;
  /** Finished deliveries are deleted this long after they finished. */
  readonly retentionMs: number;
  readonly schedule?: RetrySchedule;
  /** How often the queue is read for work this process was not told of (other servers' accepts, retries due). */
  readonly pollMs?: number;
  /** How long a claim holds without an answer recorded; default: the timeout and 5 s to record. */
  readonly leaseMs?: number;
  /** Deliveries in flight at once in this process, over every connector. */
  readonly maxInFlight?: number;
  /** How long shutdown waits for attempts in flight before it releases them. */
  readonly shutdownWaitMs?: number;
  /** Told of each attempt recorded, by connector type and outcome (the metrics). */
  readonly onAttempt?: (type: string, outcome: string) => void;
}

/**
 * How many deliveries of one connector a claim may take, in concurrencies: a claim is a write
 * (an fsync on SQLite's default), so one claim of 4 × concurrency serves four rounds of sends. The
 * lease covers the rounds: the last of the batch may wait for three before it starts.
 */
const PREFETCH_ROUNDS = 4;

export const MAX_IN_FLIGHT = 256;
/**
 * How long an ended attempt waits for others to be recorded with (flushSoon). A record holds no
 * send and no claim (the slot and the claim's room free when the attempt ends); it holds only the
 * next delivery of its alertKey and the delivery's state as GET shows it. Each record transaction
 * writes its pages to the WAL again: at 3 ms, about 6 records each at 2,000/s, and the commits
 * were a tenth of a delivery's CPU. Each attempt's row goes into delivery_attempts' primary key,
 * ordered by the delivery's random id, so a batch dirties about one index page per attempt until
 * it outgrows the index's leaves: the claims and records of 10,000 deliveries (a script of the
 * store's statements at synchronous=NORMAL) cost 46-50 µs per delivery recorded by 36 (10 ms at
 * 3,600/s), 42-45 by 90 (25 ms), and 32-33 without the attempts' rows.
 */
const RECORD_WAIT_MS = 25;
/** Attempts ended and not yet recorded, at most, before claiming stops until records catch up (memory). */
const MAX_AWAITING_RECORD = 2_048;
/**
 * How long a notice of new work waits before it claims, for the notices that follow it: accepts
 * come one by one (each answered after its own commit), and each notice claimed at once made one
 * claim transaction per delivery at a steady rate, each on the event loop beside the accepts. A
 * few milliseconds of delivery latency make one claim take the accepts of those milliseconds.
 */
const NOTICE_WAIT_MS = 5;
const POLL_MS = 1_000;
/**
 * How long the worker's chained database work (a claim round over many connectors, records in
 * batches) runs before it lets the event loop take in what arrived meanwhile: on SQLite each
 * statement runs synchronously, and awaiting one resumes in a microtask, so a round of claims or a
 * backlog of records held the loop, and every accept waiting behind it, until the whole chain ended.
 */
const TURN_MS = 4;
/** Attempts recorded in one transaction, at most. */
const RECORD_BATCH = 500;

/** Resolves after the event loop has taken in its pending I/O (a macrotask later). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/**
 * The queue's reads hold the event loop (better-sqlite3 is synchronous) for as long as the queue
 * is deep: 40 to 270 ms for 100,000 pending rows, measured. The next poll waits this many times
 * what the last one took (at most POLL_MAX_MS), so that they take at most a twentieth of the
 * time; a deep queue means work is there, so finding more a little later costs nothing.
 */
const POLL_SHARE = 20;
const POLL_MAX_MS = 10_000;
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;

/**
 * What a type's `send` gets for one attempt: the event through a getter, so that a type that
 * sends `eventJson` never has it parsed (the claim's is lazy). A class, not an object literal with
 * a getter, which V8 makes through the runtime, accessor by accessor (~0.7 µs, measured, against
 * ~0.03 µs), once per attempt.
 */
class AttemptInput implements DeliveryInput<Params, Record<string, unknown>> {
  readonly eventJson: string;
  readonly options: Record<string, unknown>;
  readonly ticket?: Ticket;
  readonly deliveryId: string;
  readonly connectorId: string;
  readonly #delivery: ClaimedDelivery;

  constructor(
    delivery: ClaimedDelivery,
    readonly params: Params,
    ticket: Ticket | undefined,
  ) {
    this.#delivery = delivery;
    this.eventJson = delivery.eventJson;
    this.options = delivery.options;
    if (ticket) this.ticket = ticket;
    this.deliveryId = delivery.id;
    this.connectorId = delivery.connectorId;
  }

  get event(): DeliveryEvent {
    return this.#delivery.event;
  }
}

/** What the worker loads a connector with: its params opened, by account (the store's get). */
export type ConnectorLoader = (accountId: number, id: string) => Promise<StoredConnector | undefined>;

interface DueConnector {
  accountId: number;
  /** Epoch ms of its earliest due delivery, as far as this process knows. */
  due: number;
  /** Raised by every notice of new work: a claim that found less than asked forgets the connector only if none came meanwhile. */
  generation: number;
}

/**
 * The deliveries worker, one per server process (every server runs one). It claims due deliveries
 * of each connector with a lease (DeliveryStore.claim), at most `concurrency` per connector and
 * `maxInFlight` in all, the accounts with work served in turn; sends each through its type's
 * `deliver` with the SSRF-safe client and one deadline; and records attempts in batches (one
 * transaction for every attempt that ended meanwhile). Claims whose server died are taken over
 * when their lease ends. Stopping waits a little for attempts in flight, then releases them.
 */
export class DeliveryWorker {
  /** This process's name on its claims. */
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly due = new Map<string, DueConnector>();
  /** Deliveries held by this process, per connector: sending now or claimed and waiting for a slot. */
  private readonly inFlight = new Map<string, number>();
  /** Claimed and not yet started, per connector, oldest first. */
  private readonly ready = new Map<string, { accountId: number; list: ClaimedDelivery[] }>();
  private readonly sending = new Map<string, Promise<void>>();
  /** Attempts under way, per connector (at most `concurrency`). */
  private readonly sendingOf = new Map<string, number>();
  private readonly toRecord: { record: AttemptRecord; done: () => void }[] = [];
  /** Attempts ended whose record is waiting or being written. */
  private awaitingRecord = 0;
  /** Connectors being read for attempts starting in this turn of the event loop (connectorNow). */
  private readonly loading = new Map<string, Promise<StoredConnector | undefined>>();
  private forgetting = false;
  private total = 0;
  private ticking = false;
  private again = false;
  private stopped = true;
  private scheduled = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private noticeTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private accountTurn = 0;
  private flushing: Promise<void> | undefined;
  private readonly schedule: RetrySchedule;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly store: DeliveryStore,
    private readonly loadConnector: ConnectorLoader,
    private readonly context: CheckContext,
    private readonly deliveryOf: DeliveryOf,
    private readonly settings: WorkerSettings,
    private readonly log: FastifyBaseLogger,
  ) {
    this.schedule = settings.schedule ?? DEFAULT_SCHEDULE;
    this.pollMs = settings.pollMs ?? POLL_MS;
    this.leaseMs = settings.leaseMs ?? settings.timeoutMs * PREFETCH_ROUNDS + 5_000;
    this.maxInFlight = settings.maxInFlight ?? MAX_IN_FLIGHT;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.poll();
  }

  /**
   * A delivery for this connector was queued (or re-queued): look for it after `waitMs`, with the
   * notices that come meanwhile (0: the caller batched them already).
   */
  notify(connectorId: string, accountId: number, waitMs = NOTICE_WAIT_MS): void {
    if (this.stopped) return;
    const known = this.due.get(connectorId);
    if (known) {
      known.due = Math.min(known.due, Date.now());
      known.generation++;
    } else this.due.set(connectorId, { accountId, due: Date.now(), generation: 0 });
    if (waitMs <= 0) {
      clearTimeout(this.noticeTimer);
      this.noticeTimer = undefined;
      this.wake();
      return;
    }
    if (this.noticeTimer || this.scheduled) return;
    this.noticeTimer = setTimeout(() => {
      this.noticeTimer = undefined;
      this.wake();
    }, waitMs);
  }

  /** Deliveries this process is sending now. */
  get inFlightCount(): number {
    return this.total;
  }

  /**
   * Stops claiming, waits up to `shutdownWaitMs` for attempts in flight and records them, then
   * releases the claims still held: those deliveries are due again at once, for any server.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Claimed but not started: released below, not sent.
    clearTimeout(this.pollTimer);
    clearTimeout(this.dueTimer);
    clearTimeout(this.noticeTimer);
    this.noticeTimer = undefined;
    const wait = this.settings.shutdownWaitMs ?? Math.min(this.settings.timeoutMs, 5_000);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.sending.values()]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, wait);
      }),
    ]);
    clearTimeout(timer);
    await this.flush();
    const left = [
      ...this.sending.keys(),
      ...[...this.ready.values()].flatMap((q) => q.list.map((d) => d.id)),
    ];
    this.ready.clear();
    if (left.length > 0) {
      try {
        await this.store.release(this.owner, left);
        this.log.info({ deliveries: left.length }, 'deliveries in flight at shutdown released');
      } catch (error) {
        this.log.warn({ err: error }, 'could not release deliveries at shutdown: their leases end instead');
      }
    }
  }

  private wake(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.tick();
    });
  }

  /** Reads the queue for work (every `pollMs`): other servers' accepts, retries come due, expired leases; prunes. */
  private async poll(): Promise<void> {
    if (this.stopped) return;
    const began = performance.now();
    /** What the reads took (with their wait for the connection), pruning aside. */
    let spent = 0;
    try {
      const taken = await this.store.takeOverExpired();
      if (taken > 0) this.log.warn({ deliveries: taken }, 'took over deliveries whose lease ended');
      const pending = await this.store.pendingConnectors();
      spent = performance.now() - began;
      const seen = new Set<string>();
      for (const { connectorId, accountId, due } of pending) {
        seen.add(connectorId);
        const at = Date.parse(due);
        const known = this.due.get(connectorId);
        if (known) known.due = at;
        else this.due.set(connectorId, { accountId, due: at, generation: 0 });
      }
      for (const [connectorId, known] of this.due) {
        if (!seen.has(connectorId) && !this.inFlight.get(connectorId) && known.due <= Date.now()) {
          this.due.delete(connectorId);
        }
      }
      if (Date.now() - this.lastPrune >= PRUNE_EVERY_MS) {
        this.lastPrune = Date.now();
        await this.prune();
      }
    } catch (error) {
      this.log.warn({ err: error }, 'reading the delivery queue failed; trying again shortly');
    }
    if (this.stopped) return;
    const wait = Math.max(this.pollMs, Math.min(POLL_MAX_MS, spent * POLL_SHARE));
    this.pollTimer = setTimeout(() => void this.poll(), wait);
    this.pollTimer.unref();
    this.wake();
  }

  private async prune(): Promise<void> {
    const before = new Date(Date.now() - this.settings.retentionMs).toISOString();
    let pruned = 0;
    for (;;) {
      const n = await this.store.prune(before, PRUNE_BATCH);
      pruned += n;
      if (n < PRUNE_BATCH || this.stopped) break;
    }
    if (pruned > 0) this.log.info({ deliveries: pruned }, 'pruned finished deliveries past retention');
  }

  /** Claims what is due, the accounts with work in turn, within the per-connector and total bounds. */
  private async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.again = false;
        await this.claimRound();
      } while (this.again && !this.stopped);
    } catch (error) {
      this.log.warn({ err: error }, 'claiming deliveries failed; trying again shortly');
    } finally {
      this.ticking = false;
    }
    this.armDueTimer();
  }

  private async claimRound(): Promise<void> {
    // Records behind (a slow disk): no more claims until they catch up; each record's end wakes this.
    if (this.awaitingRecord >= MAX_AWAITING_RECORD) return;
    const now = Date.now();
    const byAccount = new Map<number, string[]>();
    const limit = this.settings.concurrency * PREFETCH_ROUNDS;
    for (const [connectorId, known] of this.due) {
      // Claimed again once two rounds' worth of room is free (two rounds are still held, so the
      // target is never idle meanwhile): few claims, each of many.
      const held = this.inFlight.get(connectorId) ?? 0;
      if (known.due > now || limit - held < Math.min(limit, 2 * this.settings.concurrency)) continue;
      const list = byAccount.get(known.accountId) ?? [];
      list.push(connectorId);
      byAccount.set(known.accountId, list);
    }
    if (byAccount.size === 0) return;
    // Each account in turn from a rotating start, each getting an equal share of the free slots.
    const accounts = [...byAccount.keys()].sort((a, b) => a - b);
    const start = this.accountTurn++ % accounts.length;
    const ordered = [...accounts.slice(start), ...accounts.slice(0, start)];
    let left = ordered.length;
    let turnStarted = performance.now();
    for (const accountId of ordered) {
      if (this.stopped) return;
      let budget = Math.ceil((this.maxInFlight * PREFETCH_ROUNDS - this.total) / left);
      left--;
      for (const connectorId of byAccount.get(accountId) ?? []) {
        if (performance.now() - turnStarted >= TURN_MS) {
          await nextTurn();
          turnStarted = performance.now();
          if (this.stopped) return;
        }
        const slots = Math.min(limit - (this.inFlight.get(connectorId) ?? 0), budget);
        if (slots <= 0) continue;
        const known = this.due.get(connectorId);
        const generation = known?.generation;
        const leaseUntil = isoOf(Date.now() + this.leaseMs);
        const claimed = await this.store.claim(connectorId, this.owner, slots, leaseUntil);
        if (claimed.length < slots && known && known.generation === generation) {
          // Nothing more due now: the next accept, a retry recorded or the next poll brings it back.
          this.due.delete(connectorId);
        }
        if (claimed.length > 0) {
          budget -= claimed.length;
          this.launch(connectorId, accountId, claimed);
        }
      }
    }
  }

  private armDueTimer(): void {
    if (this.stopped) return;
    clearTimeout(this.dueTimer);
    let next = Number.POSITIVE_INFINITY;
    for (const { due } of this.due.values()) next = Math.min(next, due);
    if (!Number.isFinite(next)) return;
    const wait = Math.max(0, next - Date.now());
    if (wait >= this.pollMs) return; // the poll comes first
    this.dueTimer = setTimeout(() => this.wake(), wait);
    this.dueTimer.unref();
  }

  private launch(connectorId: string, accountId: number, claimed: readonly ClaimedDelivery[]): void {
    this.inFlight.set(connectorId, (this.inFlight.get(connectorId) ?? 0) + claimed.length);
    this.total += claimed.length;
    const queue = this.ready.get(connectorId) ?? { accountId, list: [] };
    queue.list.push(...claimed);
    this.ready.set(connectorId, queue);
    this.pump(connectorId);
  }

  /** Starts the connector's claimed deliveries while it has fewer than `concurrency` sending. */
  private pump(connectorId: string): void {
    const queue = this.ready.get(connectorId);
    if (!queue) return;
    while (queue.list.length > 0 && (this.sendingOf.get(connectorId) ?? 0) < this.settings.concurrency) {
      if (this.stopped) return;
      const batch = queue.list.splice(0, this.settings.concurrency - (this.sendingOf.get(connectorId) ?? 0));
      const connector = this.connectorNow(queue.accountId, connectorId);
      for (const delivery of batch) this.begin(connectorId, delivery, connector);
    }
    if (queue.list.length === 0) this.ready.delete(connectorId);
  }

  /**
   * The connector as it is now, read once for the attempts that start in this turn of the event
   * loop (attempts end, and their slots free, several in one turn): a credential changed before an
   * attempt starts applies to it.
   */
  private connectorNow(accountId: number, connectorId: string): Promise<StoredConnector | undefined> {
    const known = this.loading.get(connectorId);
    if (known) return known;
    const loading = this.loadConnector(accountId, connectorId);
    this.loading.set(connectorId, loading);
    if (!this.forgetting) {
      this.forgetting = true;
      setImmediate(() => {
        this.forgetting = false;
        this.loading.clear();
      });
    }
    return loading;
  }

  private begin(
    connectorId: string,
    delivery: ClaimedDelivery,
    connector: Promise<StoredConnector | undefined>,
  ) {
    this.sendingOf.set(connectorId, (this.sendingOf.get(connectorId) ?? 0) + 1);
    // The slot is the target's: it frees, and the next claimed delivery starts, once the attempt
    // ends, while its record is being written. So does the claim's room (inFlight, total): the
    // row stays `sending` until recorded, so no claim takes it again. (Deliveries of one alertKey
    // are never claimed together: the next one waits for this one's record.)
    const ended = () => {
      const sendingNow = (this.sendingOf.get(connectorId) ?? 1) - 1;
      if (sendingNow > 0) this.sendingOf.set(connectorId, sendingNow);
      else this.sendingOf.delete(connectorId);
      const n = (this.inFlight.get(connectorId) ?? 1) - 1;
      if (n > 0) this.inFlight.set(connectorId, n);
      else this.inFlight.delete(connectorId);
      this.total--;
      this.pump(connectorId);
      this.wake();
    };
    const done = this.attempt(delivery, connector)
      .then(
        (record) => {
          ended();
          return this.enqueueRecord(record);
        },
        (error: unknown) => {
          ended();
          // A failure of ours (the database while loading the connector): leave it to the lease.
          this.log.error({ err: error, delivery: delivery.id }, 'a delivery attempt failed in the engine');
        },
      )
      .finally(() => {
        this.sending.delete(delivery.id);
        this.wake();
      });
    this.sending.set(delivery.id, done);
  }

  /** Records an attempt with the others that ended meanwhile (one transaction); resolves once recorded. */
  private enqueueRecord(record: AttemptRecord): Promise<void> {
    this.awaitingRecord++;
    return new Promise<void>((resolve) => {
      this.toRecord.push({
        record,
        done: () => {
          this.awaitingRecord--;
          resolve();
        },
      });
      if (!this.flushing) this.flushing = this.flushSoon();
    });
  }

  /**
   * Records after RECORD_WAIT_MS, with every attempt that ended meanwhile: one transaction for
   * many. The wait holds no send (the slot freed when the attempt ended), only the claim's room
   * and the next delivery of an alertKey.
   */
  private async flushSoon(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, RECORD_WAIT_MS));
    await this.flush();
  }

  private async flush(): Promise<void> {
    try {
      let turnStarted = performance.now();
      while (this.toRecord.length > 0) {
        if (performance.now() - turnStarted >= TURN_MS) {
          await nextTurn();
          turnStarted = performance.now();
        }
        const batch = this.toRecord.splice(0, RECORD_BATCH);
        try {
          await this.store.record(
            this.owner,
            batch.map((b) => b.record),
          );
          for (const { record } of batch) this.afterRecord(record);
        } catch (error) {
          // Not recorded: the lease ends and another attempt is made (the target may see it twice).
          this.log.error({ err: error, deliveries: batch.length }, 'recording delivery attempts failed');
        }
        for (const b of batch) b.done();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private afterRecord({ delivery, next, attempt }: AttemptRecord): void {
    this.settings.onAttempt?.(delivery.connectorType, attempt.outcome);
    if (next.state === 'retrying') {
      const at = Date.parse(next.nextAttemptAt);
      const known = this.due.get(delivery.connectorId);
      if (known) known.due = Math.min(known.due, at);
      else this.due.set(delivery.connectorId, { accountId: delivery.accountId, due: at, generation: 0 });
    }
    if (delivery.alertKey !== null && next.state !== 'retrying') {
      // The next delivery of the alert may be waiting for this one.
      this.notify(delivery.connectorId, delivery.accountId);
    }
    if (next.state === 'failed' || next.state === 'retrying') {
      this.log.info(
        {
          delivery: delivery.id,
          connectorId: delivery.connectorId,
          outcome: attempt.outcome,
          state: next.state,
        },
        `delivery attempt: ${attempt.message}`,
      );
    }
  }

  /**
   * The outbound client as one connector's deliveries use it: their calls share keep-alive
   * connections with each other and with no other connector's (OutboundRequest.pool).
   */
  private clientOf(delivery: ClaimedDelivery): OutboundClient {
    const { http } = this.context;
    const pool = `${delivery.accountId}/${delivery.connectorId}`;
    return {
      timeoutMs: http.timeoutMs,
      maxBytes: http.maxBytes,
      request: (request) => http.request({ ...request, pool }),
    };
  }

  /** One attempt of one delivery: whatever happens at the target, a record. */
  private async attempt(
    delivery: ClaimedDelivery,
    loading: Promise<StoredConnector | undefined>,
  ): Promise<AttemptRecord> {
    const started = Date.now();
    const startedAt = isoOf(started);
    const redactor = new Redactor();
    const finish = (outcome: DeliveryOutcome): AttemptRecord => {
      const ended = Date.now();
      const message = redactor.redactMessage(outcome.message);
      const attempt = {
        startedAt,
        durationMs: ended - started,
        ...(outcome.httpStatus === undefined ? {} : { httpStatus: outcome.httpStatus }),
        outcome: outcome.result,
        message,
      };
      if (outcome.result === 'delivered') {
        return {
          delivery,
          attempt,
          next: { state: 'delivered', externalRef: outcome.externalRef },
          ticket: outcome.ticket,
        };
      }
      if (outcome.result === 'failed') return { delivery, attempt, next: { state: 'failed' } };
      const attempts = delivery.attemptCount + 1;
      const createdAt = Date.parse(delivery.createdAt);
      const at = nextAttemptAt(this.schedule, attempts, createdAt, ended, outcome.retryAfterMs);
      if (at === undefined) {
        return {
          delivery,
          attempt: { ...attempt, message: `${message}; ${describeGivingUp(attempts, createdAt, ended)}` },
          next: { state: 'failed' },
        };
      }
      return { delivery, attempt, next: { state: 'retrying', nextAttemptAt: new Date(at).toISOString() } };
    };

    const connector = await loading;
    if (!connector) {
      return finish({
        result: 'failed',
        message: `connector ${delivery.connectorId} no longer exists`,
      });
    }
    const { type, params } = connector;
    for (const name of type.secretParams) {
      const secret = params[name];
      if (secret) redactor.addSecret(secret);
    }
    const definition = this.deliveryOf(type);
    if (!definition) return finish({ result: 'failed', message: `type ${type.id} does not deliver` });
    const missing = definition.missing?.(params);
    if (missing) return finish({ result: 'failed', message: missing });
    const ticket =
      definition.kind === 'ticket' && delivery.alertKey !== null
        ? await this.store.ticket(delivery.connectorId, delivery.alertKey)
        : undefined;
    const deadline = started + this.settings.timeoutMs;
    const run: CheckRun = { ...this.context, http: this.clientOf(delivery), deadline, redactor };
    let overdue: NodeJS.Timeout | undefined;
    try {
      // The send's outcome, or the overdue one, whichever comes first (one promise, not a race of two).
      const outcome = await new Promise<DeliveryOutcome>((resolve, reject) => {
        // Every call ends by the deadline; this bounds a type that waits for something else.
        overdue = setTimeout(
          () =>
            resolve({
              result: 'retry',
              message: `no complete answer within the ${this.settings.timeoutMs} ms an attempt may take`,
            }),
          this.settings.timeoutMs + 1_000,
        );
        definition.send(new AttemptInput(delivery, params, ticket), run).then(resolve, reject);
      });
      return finish(outcome);
    } catch (error) {
      if (error instanceof UnvalidatedParamsError) {
        return finish({ result: 'failed', message: error.message });
      }
      this.log.warn(
        { delivery: delivery.id, type: type.id, error: error instanceof Error ? error.name : typeof error },
        'a delivery got an answer its type could not read',
      );
      return finish({
        result: 'failed',
        message: `${type.displayName} gave an answer that could not be understood`,
      });
    } finally {
      clearTimeout(overdue);
    }
  }
}
