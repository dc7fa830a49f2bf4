import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/**
 * WAL checkpoints on a thread of their own, for the server's SQLite database.
 *
 * SQLite copies the WAL back into the database file (a checkpoint) in the commit that takes the
 * WAL past 1,000 pages, on the committing connection: with better-sqlite3 that is on the event
 * loop, and it writes those pages and fsyncs the WAL and the database file. Under deliveries that
 * came every few hundred commits and held the loop for milliseconds (the accept that happened to
 * commit waited for it all), and was about a third of the worker's commit time.
 *
 * Here a worker thread with its own connection runs `wal_checkpoint(PASSIVE)` every `intervalMs`:
 * PASSIVE takes no lock that a writer or reader waits for (WAL lets the main connection write
 * meanwhile), and copies what no reader still needs. Once the thread has its connection open, the
 * main connection's automatic checkpoints are turned off; should the thread fail or stop, they are
 * turned back on. Durability is unchanged: a commit is as durable as its `synchronous` made it
 * before any checkpoint (a checkpoint only moves committed pages, after syncing the WAL), and a
 * crash at any point is recovered from the WAL on the next open, as before.
 */
export interface Checkpointer {
  /** Stops the thread (its connection closed); the main connection checkpoints by itself again. */
  close(): Promise<void>;
}

/** How often the thread checkpoints: the WAL grows by what is written in this long, at most (and no reader holds). */
export const CHECKPOINT_EVERY_MS = 100;
/**
 * The main connection's automatic checkpoint threshold, in pages, when no thread does it (set as
 * the server's database opens, sqlite-database.ts). SQLite's default is 1,000: under a stream of
 * writes that was a checkpoint every ~200 updates, each run inside a write group's COMMIT on the
 * event loop with two fsyncs the loop waits for (~5 ms on this project's loaded CI machine: ~45 µs
 * of a blocked loop per update), copying pages that the next groups write again (the accounts row,
 * the indexes' inner pages, the tables' last leaves). At 4,000 pages (a WAL of up to 16 MiB on
 * the disk) there are a quarter of the checkpoints and their fsyncs, and a page written by several
 * groups in between is copied once: store-level, 5,000 updates in groups of 25 (strace -c), 43 ->
 * 13 fsyncs, 33,567 -> 30,501 pwrite()s, 7,518 -> 4,462 pread()s. Durability is the same: a
 * checkpoint only copies committed pages.
 */
export const AUTOCHECKPOINT_PAGES = 4_000;

/**
 * The thread's code, evaluated as a CommonJS script (the server is bundled into one file; this
 * needs nothing of it). It requires better-sqlite3 from where the main thread found it.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Sqlite = require(workerData.module);
const { path, nativeBinding, synchronous, intervalMs } = workerData;
const db = new Sqlite(path, { timeout: 0, ...(nativeBinding ? { nativeBinding } : {}) });
// A checkpoint syncs the WAL and the database file at FULL and NORMAL alike; never OFF here.
db.pragma('synchronous = ' + synchronous);
db.pragma('wal_autocheckpoint = 0');
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    checkpoint.run();
  } catch (error) {
    // SQLITE_BUSY: another connection is checkpointing (another process's, or the main one while it
    // closes); the next interval tries again. Anything else ends the thread (the main one takes over).
    if (!(error && typeof error.code === 'string' && error.code.startsWith('SQLITE_BUSY'))) throw error;
  }
}, intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
parentPort.postMessage('ready');
`;

export function startCheckpointer(
  main: SqliteDatabase.Database,
  settings: {
    readonly path: string;
    readonly module: string;
    readonly nativeBinding: string | undefined;
    readonly synchronous: string;
    readonly intervalMs?: number;
    /** Told when the thread failed (its checkpoints are back on the main connection). */
    readonly onError?: (error: unknown) => void;
  },
): Checkpointer {
  const worker = new Worker(THREAD, {
    eval: true,
    workerData: {
      path: settings.path,
      module: settings.module,
      nativeBinding: settings.nativeBinding,
      synchronous: settings.synchronous,
      intervalMs: settings.intervalMs ?? CHECKPOINT_EVERY_MS,
    },
    // A connection and a timer: a small heap is plenty.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  worker.unref();
  let handedOver = false;
  const takeBack = () => {
    if (!handedOver) return;
    handedOver = false;
    if (main.open) main.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  };
  worker.on('message', (message) => {
    if (message === 'ready' && main.open) {
      main.pragma('wal_autocheckpoint = 0');
      handedOver = true;
    }
  });
  worker.on('error', (error) => {
    takeBack();
    settings.onError?.(error);
  });
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      takeBack();
      resolve();
    });
  });
  return {
    async close() {
      takeBack();
      // Held while it closes: a close awaited with nothing else keeping the process alive (a start
      // that failed with this thread still loading better-sqlite3) let Node exit mid-await, with
      // exit code 13 and none of the caller's message.
      worker.ref();
      worker.postMessage('close');
      await exited;
    },
  };
}
