import { fileURLToPath } from 'node:url';
import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger } from 'fastify';
import { bootstrapKeys } from './bootstrap.js';
import type { Config } from './config.js';
import { type DeliveryThreadOptions, EarlyThread } from './deliveries/thread-host.js';
import { warnIfRedisUrlUnused } from './http/rate-limit-setting.js';
import { createLogger, defaultLogFormat, flushLogger } from './logger.js';
import type { Hashing } from './secrets/hash-key.js';
import { type KeyringSource, resolveKeyring } from './secrets/keyring.js';
import { createSecretBox } from './secrets/secret-box.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './store/database.js';
import { hasDeliveryWork } from './store/delivery-store.js';
import { createKeyStore } from './store/key-store.js';
import { describeLocation } from './store/location.js';
import { openHashing } from './store/sealed/hash-key.js';
import { openKeyring } from './store/sealed/keyring-check.js';
import { readStartState } from './store/sealed/start-reads.js';
import { upgradeStoredHashes } from './store/upgrade-hashes.js';
import {
  capYoungGeneration,
  heapGrowthChosen,
  limitOldGenerationGrowth,
  semiSpaceChosen,
} from './young-generation.js';

/**
 * `plugboard serve`: migrate, check that the master key opens the stored secrets, make sure an
 * API key exists, listen, and shut down with grace on a signal. Any failure before listening
 * stops the process with a message.
 */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, undefined, config.logFormat ?? defaultLogFormat());
  warnIfRedisUrlUnused(config, logger);
  // Every setting is checked before the database is opened (and maybe created and migrated).
  checkMasterKeys(config);
  const deliveryThread = deliveryThreadOf(config);
  const database = openDatabase(config.database, {
    ...(deliveryThread ? { writeIntent: deliveryThread.writeIntent } : {}),
    synchronous: config.sqliteSynchronous,
    poolSize: config.databasePoolSize,
    onFileModes: ({ level, message, paths }) => logger[level]({ paths }, message),
    checkpointThread: {
      onError: (error) =>
        logger.warn({ err: error }, 'the WAL checkpoint thread failed; commits checkpoint the WAL again'),
    },
  });
  // Deliveries left from before the start (a restart with a queue): their thread is made now, to
  // boot beside the rest of the start, and opens the database once it is migrated and checked.
  const early =
    deliveryThread && (await workAtStart(database, config)) ? new EarlyThread(deliveryThread) : undefined;
  // PostgreSQL: two connections besides the one that migrates, opened meanwhile: the first
  // requests after listening (the key bootstrap, the first /healthz) run beside the delivery
  // worker's first claim, and each would otherwise wait for a connection of its own.
  database.warm?.(2);
  // The database's part of the start (migrations, the keys' checks) begins before the HTTP app's
  // modules are loaded, and on PostgreSQL runs as they load: a turn of the event loop first sends
  // the new connections' startup messages, and PostgreSQL starts their backends (~15 ms here)
  // while this process evaluates Fastify, the routes and their schemas (~20 ms of CPU), where the
  // start otherwise waited for those backends after it (issue 15).
  const prepared = prepareDatabase(config, database, logger);
  prepared.then(
    () => early?.open(),
    () => early?.cancel(),
  );
  if (database.warm) {
    // Two: the first immediate of a start runs before the event loop first polls.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { appDeliveryThread, buildApp } = await import('./app.js');
  // The app is built while those checks run: on PostgreSQL they wait on round trips (~40 ms,
  // mostly idle) that the ~30 ms of CPU building the app now fills (issue 15). It is given the
  // keys as stand-ins that pass to the real ones once the checks pass; nothing calls them
  // before: no request is answered and no delivery starts until then.
  const keys = keysOnceChecked(prepared);
  const [built, checked] = await Promise.allSettled([
    buildApp({
      database,
      logger,
      keyring: keys.keyring,
      settings: config,
      hashing: keys.hashing,
      closeDatabase: true,
      checked: keys.checked,
      ...(deliveryThread ? { deliveryThread: early ? { ...deliveryThread, early } : deliveryThread } : {}),
    }),
    keys.checked,
  ]);
  if (checked.status === 'rejected' || built.status === 'rejected') {
    // The app closes the database (closeDatabase) and whatever else it opened; a build that failed
    // (say Redis down) left the database open, whose pool would keep the process alive ~30 s. The
    // reason to give is the check's (as before the two overlapped), else the build's: an error
    // while closing must not replace it.
    early?.cancel();
    const closing = built.status === 'fulfilled' ? built.value.close() : database.close();
    await closing.catch((closeError: unknown) =>
      logger.warn({ err: closeError }, 'closing after a failed start'),
    );
    throw checked.status === 'rejected' ? checked.reason : (built as PromiseRejectedResult).reason;
  }
  const app = built.value;
  const { keyring, hashing } = checked.value;
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // The reason the server cannot listen is the message to give; an error while closing (say
    // the database is busy with another process) must not replace it.
    await app
      .close()
      .catch((closeError: unknown) => logger.warn({ err: closeError }, 'closing after a failed start'));
    throw listenError(error, config);
  }
  // Only once listening: a start that fails (port in use, bad HOST, Redis down) must not create
  // and show the one first key and then exit, leaving a database whose key nobody has.
  try {
    // On stderr: stdout is the log, one JSON object a line that log collectors parse, and the key
    // must not end up in the log store.
    await bootstrapKeys(createKeyStore(database.db, hashing), config.apiKey, logger, (text) =>
      process.stderr.write(`${text}\n`),
    );
  } catch (error) {
    await app
      .close()
      .catch((closeError: unknown) => logger.warn({ err: closeError }, 'closing after a failed start'));
    throw error;
  }
  // Registered only once listening: it would turn an exit after a failed start into exit code 0.
  closeWithGrace(
    { delay: 10_000, logger: { error: (message) => logger.error(message) } },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'shutting down after an uncaught error');
      else logger.info({ signal }, 'shutting down: finishing requests in flight');
      await app.close();
      logger.info('stopped');
      await flushLogger(logger);
    },
  );
  logger.info(
    { database: describeLocation(config.database), secrets: keyring.source.description },
    'Plugboard is ready',
  );
  const tuneHeap = () => {
    // The young generation stops at 8 MiB semi-spaces unless node was given a size (issue 15's RSS).
    if (!semiSpaceChosen(process.execArgv, process.env.NODE_OPTIONS)) capYoungGeneration();
    // The old generation grows 20 % past what a full collection left live before the next (the same).
    if (!heapGrowthChosen(process.execArgv, process.env.NODE_OPTIONS)) limitOldGenerationGrowth();
  };
  // V8's flags are the process's, and a code cache is refused under other flags than it was made
  // with (bin/plugboard.js): a deliveries thread started for a queue found pending (app.ts) compiles
  // the bundle with its cache, where after these two it compiled it from source (~45 ms more of its
  // CPU, and every function it then runs). So, when one is booting, they wait for its ready.
  const thread = appDeliveryThread.get(app);
  const booting = thread?.started ? thread.booted : early?.booted;
  if (booting) {
    // At most BOOT_WAIT_MS: a thread that hangs before its ready must not leave the heap untuned.
    let timer: NodeJS.Timeout | undefined;
    void Promise.race([
      booting,
      new Promise((resolve) => {
        timer = setTimeout(resolve, BOOT_WAIT_MS);
        timer.unref();
      }),
    ]).then(() => {
      clearTimeout(timer);
      tuneHeap();
    });
  } else tuneHeap();
}

/** How long serve waits for a booting deliveries thread before it tunes the heap anyway. */
const BOOT_WAIT_MS = 5_000;

/** Migrates, checks the master keys against what is stored, and opens (and upgrades) the API keys' hashing. */
async function prepareDatabase(
  config: Config,
  database: DatabaseHandle,
  logger: FastifyBaseLogger,
): Promise<{ keyring: Awaited<ReturnType<typeof openKeyring>>; hashing: Hashing }> {
  // PostgreSQL: what the checks below read, in one statement sent beside the migrations' check
  // (start-reads.ts), used only if that check finds nothing to apply: the checks then wait for
  // one round trip instead of four in a row (issue 15). Its error is never the start's: the
  // checks read again, as before, and fail (or not) on their own.
  const early =
    database.location.kind === 'postgres' ? readStartState(database.db).catch(() => undefined) : undefined;
  const { applied } = await migrateToLatest(database);
  if (applied.length > 0) logger.info({ applied }, 'database migrated');
  const read = applied.length === 0 ? await early : undefined;
  const keyring = await openKeyring(config, database.db, read);
  if (keyring.createdFile) {
    logger.info(
      { keyFile: keyring.createdFile },
      'created a master key file (mode 0600); back it up with the database',
    );
  }
  const hashing = await openHashing(database.db, keyring.source, keyring.stored);
  const keys = createKeyStore(database.db, hashing);
  await upgradeStoredHashes(
    database.db,
    keys,
    createSecretBox(keyring.source),
    hashing,
    logger,
    read?.upgrade,
  );
  return { keyring, hashing };
}

type Checked = Awaited<ReturnType<typeof prepareDatabase>>;

/**
 * The keyring and hashing the database's checks (`prepared`) open, usable at once as stand-ins
 * that call the real ones once those checks have passed (`checked`); a use before is a bug, and
 * throws.
 */
function keysOnceChecked(prepared: Promise<Checked>): {
  keyring: KeyringSource;
  hashing: Hashing;
  checked: Promise<Checked>;
} {
  let opened: Checked | undefined;
  const checked = prepared.then((value) => {
    opened = value;
    return value;
  });
  const open = (): Checked => {
    if (!opened) throw new Error('the master keys were used before the database checks passed');
    return opened;
  };
  return {
    keyring: {
      get description() {
        return open().keyring.source.description;
      },
      get file() {
        return open().keyring.source.file;
      },
      current: () => open().keyring.source.current(),
      reload: () => open().keyring.source.reload(),
    },
    hashing: {
      apiKey: (key) => open().hashing.apiKey(key),
      apiKeyFromDigest: (digest) => open().hashing.apiKeyFromDigest(digest),
      fingerprint: (digest) => open().hashing.fingerprint(digest),
    },
    checked,
  };
}

/**
 * bin/plugboard.js and the write-intent flag shared with the thread's connection, when deliveries go out from a thread (PLUGBOARD_DELIVERY_THREAD, SQLite with a
 * file): that thread runs the bundle this module is part of. Not from the compiled sources (tests
 * in-process): the thread would run whatever bundle was built last.
 */
function deliveryThreadOf(config: Config): DeliveryThreadOptions | undefined {
  if (config.deliveryThread !== 'on' || config.database.kind !== 'sqlite') return undefined;
  if (config.database.path === ':memory:' || config.database.path === '') return undefined;
  if (!import.meta.url.endsWith('/plugboard.cjs')) return undefined;
  return {
    entry: fileURLToPath(new URL('../bin/plugboard.js', import.meta.url)),
    writeIntent: new Int32Array(new SharedArrayBuffer(8)),
  };
}

/**
 * Whether the database holds deliveries to send or prune, read as the start begins, before the
 * migrations: false when it cannot tell (a new file, no deliveries table yet); the app looks again
 * once the database is ready.
 */
async function workAtStart(database: DatabaseHandle, config: Config): Promise<boolean> {
  const pastRetention = new Date(Date.now() - config.deliveryRetentionDays * 86_400_000).toISOString();
  try {
    return await hasDeliveryWork(database.db, pastRetention);
  } catch {
    return false;
  }
}

/**
 * A malformed PLUGBOARD_MASTER_KEY or PLUGBOARD_PREVIOUS_MASTER_KEYS, or PostgreSQL without
 * PLUGBOARD_MASTER_KEY, refused before the database is touched (PostgreSQL's would otherwise be
 * migrated first). Only the key file, which lives beside the SQLite database, is read later.
 */
function checkMasterKeys(config: Config): void {
  const { masterKey, previousMasterKeys, database } = config;
  if (masterKey !== undefined || previousMasterKeys !== undefined || database.kind === 'postgres') {
    resolveKeyring(config);
  }
}

/** Why the server could not listen, naming the setting to change. */
function listenError(error: unknown, config: Config): Error {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (code === 'EADDRINUSE') {
    return new Error(`PORT ${config.port} on ${config.host} is already in use; set PORT to a free port`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL') {
    return new Error(
      `HOST ${config.host} is not an address of this machine; set HOST to 127.0.0.1, 0.0.0.0 or one of its addresses`,
    );
  }
  if (code === 'EACCES') return new Error(`PORT ${config.port} needs privileges; set PORT to 1024 or above`);
  return error instanceof Error ? error : new Error(String(error));
}
