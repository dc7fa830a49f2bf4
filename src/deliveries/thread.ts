import { parentPort, workerData } from 'node:worker_threads';
import { sql } from 'kysely';
import { loadConfig } from '../config.js';
import { createLogger, defaultLogFormat, flushLogger } from '../logger.js';
import { createOutboundClient } from '../outbound/client.js';
import { preparePooledCalls } from '../outbound/exchange.js';
import { createSecretBox } from '../secrets/secret-box.js';
import { createConnectorStore } from '../store/connector-store.js';
import { openDatabase } from '../store/database.js';
import { createDeliveryStore } from '../store/delivery-store.js';
import { dialectOf } from '../store/dialect.js';
import { openKeyring } from '../store/sealed/keyring-check.js';
import type { ThreadMessage, ThreadReport } from './thread-host.js';
import { DeliveryWorker, declaredDelivery } from './worker.js';

/**
 * The WAL size, in pages, past which one of this connection's commits checkpoints (SQLite's
 * automatic checkpoint; its default is 1,000). The server's checkpoint thread (checkpointer.ts)
 * checkpoints every 100 ms; it turns the server connection's automatic checkpoints off, not this
 * one's, so whenever it fell behind (a busy core) or had not started yet (the first second), the
 * commit of a claim or record that took the WAL past 1,000 pages copied the WAL back and synced
 * the WAL and the database file on this thread, between sends: milliseconds without a send. This
 * is a backstop (the WAL stays bounded should the checkpoint thread fail: ~40 MB).
 */
const AUTOCHECKPOINT_PAGES = 10_000;

/** What the thread's connector store keeps at most (getNow): connectors and their estimated bytes. */
const THREAD_KEEPS = { ones: 1_024, bytes: 4 * 1024 * 1024 };

/** How often the attempts counted for the metrics go to the server's thread, at most. */
const COUNTS_EVERY_MS = 250;

/**
 * The deliveries thread (thread-host.ts starts it; bin/plugboard.js runs this in it): the server's
 * delivery worker with its own SQLite connection and everything a send needs (the settings from the
 * same environment, the master keys, the connector store, the outbound client), so that claims,
 * sends and records leave the event loop that answers the API. For the database it is one more
 * connection, as a second server on the same file would be: transactions begun IMMEDIATE, a busy
 * lock waited for, claims under this thread's own owner name and lease.
 */
export async function runDeliveryThread(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the deliveries thread runs only as a worker thread');
  // What the server's thread says, kept in order until the worker below takes it (handle).
  const inbox: ThreadMessage[] = [];
  let handle: ((message: ThreadMessage) => void) | undefined;
  port.on('message', (message: ThreadMessage) => {
    if (handle) handle(message);
    else inbox.push(message);
  });
  const config = loadConfig();
  const logger = createLogger(config.logLevel, undefined, config.logFormat ?? defaultLogFormat()).child({
    thread: 'deliveries',
  });
  const { writeIntent, held, gated } = workerData as {
    writeIntent?: Int32Array;
    held?: boolean;
    gated?: boolean;
  };
  // The server's thread opens (and migrates) the database and checks the keys before this opens
  // it: it started this thread before that (gated: EarlyThread), or after.
  if (gated && !(await opened(inbox, (waiting) => (handle = waiting)))) {
    handle = undefined;
    const report: ThreadReport = { kind: 'stopped' };
    port.postMessage(report);
    port.close();
    return;
  }
  handle = undefined;
  // NORMAL: this connection writes only what the worker writes through DatabaseHandle.relaxed
  // anyway (claims, records, take-overs, pruning; a commit lost on power loss means a delivery sent
  // again), so every statement need not switch the setting there and back.
  const database = openDatabase(config.database, {
    synchronous: 'NORMAL',
    ...(writeIntent ? { yieldTo: writeIntent } : {}),
  });
  let worker: DeliveryWorker;
  try {
    if (dialectOf(database.db) === 'sqlite') {
      await sql`pragma wal_autocheckpoint = ${sql.raw(String(AUTOCHECKPOINT_PAGES))}`.execute(database.db);
    }
    const keyring = await openKeyring(config, database.db);
    // The pooled calls' HTTP client (undici), loaded before the ready: a thread started held boots
    // while the server starts (a restart with deliveries queued), so its first sends do not wait
    // for it, nor do the deliveries of its first claim, whose lease runs meanwhile.
    await preparePooledCalls();
    // It keeps the connectors it sends through (getNow), fewer than the server's thread: only those
    // with deliveries under way are read here, and the process's peak memory is both threads'.
    const connectors = createConnectorStore(
      database.db,
      createSecretBox(keyring.source),
      undefined,
      database.transact,
      undefined,
      THREAD_KEEPS,
    );
    const timeoutMs = config.deliveryTimeout * 1000;
    const counts = new Map<string, { type: string; outcome: string; n: number }>();
    let countsTimer: NodeJS.Timeout | undefined;
    const sendCounts = () => {
      countsTimer = undefined;
      if (counts.size === 0) return;
      const report: ThreadReport = { kind: 'attempts', counts: [...counts.values()] };
      counts.clear();
      port.postMessage(report);
    };
    worker = new DeliveryWorker(
      createDeliveryStore(database.db, database.relaxed, database.transact),
      // At once where the connection can read now (no transaction open): the connector as a
      // read now gives it, kept while no other connection committed (the stamp); else a read.
      (accountId, id) => {
        const now = connectors.getNow(accountId, id);
        return now === null ? connectors.get(accountId, id) : Promise.resolve(now);
      },
      {
        http: createOutboundClient({ allowedTargets: config.allowedTargets ?? [], timeoutMs }),
        endpoints: {},
      },
      declaredDelivery,
      {
        concurrency: config.deliveryConcurrency,
        timeoutMs,
        retentionMs: config.deliveryRetentionDays * 86_400_000,
        onAttempt: (type, outcome) => {
          const key = `${type}\n${outcome}`;
          const known = counts.get(key);
          if (known) known.n++;
          else counts.set(key, { type, outcome, n: 1 });
          countsTimer ??= setTimeout(sendCounts, COUNTS_EVERY_MS);
        },
      },
      logger,
    );
    let stopping = false;
    const stop = async () => {
      await worker.stop();
      clearTimeout(countsTimer);
      sendCounts();
      await database.close();
      await flushLogger(logger);
      const report: ThreadReport = { kind: 'stopped' };
      port.postMessage(report);
      port.close();
    };
    handle = (message: ThreadMessage) => {
      if (message.kind === 'notify') {
        // Batched by the server's thread over NOTICE_EVERY_MS already: claimed now.
        for (let i = 0; i < message.due.length; i += 2) {
          worker.notify(String(message.due[i]), Number(message.due[i + 1]), 0);
        }
      } else if (message.kind === 'send') {
        // Started before the server listened, which it now does: claims and sends from here on.
        if (!stopping) worker.start();
      } else if (message.kind === 'stop') {
        if (stopping) return;
        stopping = true;
        stop().catch((error: unknown) => {
          logger.error({ err: error }, 'stopping the deliveries thread failed');
          port.close();
        });
      }
    };
    // Started before what came meanwhile is taken, as when the port held it until now: a stop
    // among it then stops a started worker (releasing what it claimed) instead of one that a
    // start after it would set going again.
    if (!held) worker.start();
    for (const message of inbox.splice(0)) handle(message);
  } catch (error) {
    await database.close();
    throw error;
  }
  const ready: ThreadReport = { kind: 'ready' };
  port.postMessage(ready);
}

/**
 * Waits for the server's thread to say the database is ready (`open`: true) or to stop this
 * thread first (`stop`: false), taking the messages kept in `inbox` first and then those that
 * come (`listen` sets the port's handler); any other message stays in the inbox, in order.
 */
function opened(
  inbox: ThreadMessage[],
  listen: (handler: (message: ThreadMessage) => void) => void,
): Promise<boolean> {
  return new Promise((resolve) => {
    let decided = false;
    const take = (message: ThreadMessage): boolean => {
      if (!decided && (message.kind === 'open' || message.kind === 'stop')) {
        decided = true;
        resolve(message.kind === 'open');
        return true;
      }
      inbox.push(message);
      return false;
    };
    const kept = inbox.splice(0);
    for (let i = 0; i < kept.length; i++) {
      if (take(kept[i] as ThreadMessage)) {
        inbox.push(...kept.slice(i + 1));
        return;
      }
    }
    listen((message) => {
      take(message);
    });
  });
}
