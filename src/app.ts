import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type Config, defaultConfig } from './config.js';
import type { AnswerLimits } from './connectors/checks/answer.js';
import { type CheckConcurrency, CheckLimiter, DEFAULT_CHECK_CONCURRENCY } from './connectors/checks/limit.js';
import type { ConnectorTypeId } from './connectors/registry.js';
import { type DeliveryEngine, DeliveryThread, type DeliveryThreadOptions } from './deliveries/thread-host.js';
import { eventValidator } from './deliveries/validate.js';
import {
  type DeliveryOf,
  DeliveryWorker,
  declaredDelivery,
  type WorkerSettings,
} from './deliveries/worker.js';
import { errors } from './errors.js';
import { installAuth } from './http/auth.js';
import { frameworkErrorHandler, installErrorHandler } from './http/error-handler.js';
import { answerFirst, fastReads } from './http/fast-reads.js';
import { installJsonBody } from './http/json-body.js';
import { installLingeringClose } from './http/linger.js';
import { collectRoutesForMethodNotAllowed } from './http/method-not-allowed.js';
import { installOverloadGuard, type OverloadSettings } from './http/overload.js';
import { installRateLimit, type RateLimitSettings } from './http/rate-limit.js';
import { installRequestLog, requestIdFor } from './http/request-log.js';
import { auditRoutes } from './http/routes/audit.js';
import { checkRoutes } from './http/routes/checks.js';
import { connectorTypeRoutes } from './http/routes/connector-types.js';
import { connectorRoutes } from './http/routes/connectors.js';
import { consoleRoutes, findConsoleDir } from './http/routes/console.js';
import { deliveryRoutes } from './http/routes/deliveries.js';
import { healthRoutes } from './http/routes/health.js';
import { meRoutes } from './http/routes/me.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { openApiRoutes } from './http/routes/openapi.js';
import { type LazySerializers, lazySerializers, serializersOf } from './http/serializers.js';
import { DEFAULT_TIMEOUTS, serverTimeoutOptions, type TimeoutSettings } from './http/timeouts.js';
import { type WarmUp, warmUp } from './http/warm-up.js';
import { createMetrics, type Metrics, registerPoolMetrics, registerQueueMetrics } from './metrics.js';
import { collectRoutes } from './openapi/collect.js';
import { createOutboundClient } from './outbound/client.js';
import type { Hashing } from './secrets/hash-key.js';
import type { KeyringSource } from './secrets/keyring.js';
import { createSecretBox } from './secrets/secret-box.js';
import { noteArrival } from './store/arrivals.js';
import { createAuditStore } from './store/audit-store.js';
import { createConnectorStore } from './store/connector-store.js';
import type { DatabaseHandle } from './store/database.js';
import { createDeliveryStore } from './store/delivery-store.js';
import { createIdempotencyStore } from './store/idempotency-store.js';
import { createKeyStore } from './store/key-store.js';
import { openHashing } from './store/sealed/hash-key.js';

/** Largest accepted request body; a connector is a few hundred bytes. */
export const BODY_LIMIT = 64 * 1024;

/** How credential checks call out (issue: connectors that prove they connect). */
export interface CheckSettings {
  /** Hosts and CIDRs that checks may call although they are private (PLUGBOARD_ALLOWED_TARGETS). */
  readonly allowedTargets: readonly string[];
  readonly timeoutMs: number;
  /** Fixed endpoints pointed elsewhere, by type id (a type's `endpoint`, e.g. GitHub's API); tests point them at fakes. */
  readonly endpoints?: Partial<Record<ConnectorTypeId, string>>;
  /** Checks at once per API key and per process; unset: DEFAULT_CHECK_CONCURRENCY. */
  readonly concurrency?: CheckConcurrency;
  /** How much of a JSON answer is read; unset: ANSWER_LIMITS. */
  readonly answers?: AnswerLimits;
}

/** How deliveries are sent; unset fields: from the settings (PLUGBOARD_DELIVERY_*). */
export interface DeliverySettings extends Partial<WorkerSettings> {
  /** Run the worker in this app (default true: every server process sends). */
  readonly worker?: boolean;
  /** Each type's delivery; tests give definitions of their own. Default: the types' `deliver`. */
  readonly deliveryOf?: DeliveryOf;
  readonly queueCap?: number;
  /** Hosts the deliveries may call although private; default: the checks' (PLUGBOARD_ALLOWED_TARGETS). */
  readonly allowedTargets?: readonly string[];
}

/** How often a server whose deliveries thread has not started looks for pending deliveries. */
const DELIVERY_THREAD_LOOK_MS = 1_000;

export const DEFAULT_CHECK_SETTINGS: CheckSettings = { allowedTargets: [], timeoutMs: 5_000 };

export interface AppOptions {
  readonly database: DatabaseHandle;
  readonly logger: FastifyBaseLogger;
  /** The master keys that seal secret params. */
  readonly keyring: KeyringSource;
  /** The settings (src/config.ts), as the environment gave them; those not given: their defaults. */
  readonly settings?: Partial<Config>;
  /** What key hashes and fingerprints are keyed with; unset: opened (made on first use) from the database. */
  readonly hashing?: Hashing;
  /** How checks call out; unset: DEFAULT_CHECK_SETTINGS with the settings' allowed targets. */
  readonly checks?: CheckSettings;
  /** Close the database when the app closes (the server owns it; tests may share one). */
  readonly closeDatabase?: boolean;
  /** Request budgets and where their counters live; unset: from the settings (PLUGBOARD_RATE_LIMIT, REDIS_URL). */
  readonly rateLimit?: RateLimitSettings;
  /** When to answer 503 instead of queueing; unset: DEFAULT_OVERLOAD. */
  /** The overload guard's settings; unset: DEFAULT_OVERLOAD; `false`: no guard (in-process tests). */
  readonly overload?: OverloadSettings | false;
  /** Client timeouts; unset ones: DEFAULT_TIMEOUTS. */
  readonly timeouts?: Partial<TimeoutSettings>;
  readonly deliveries?: DeliverySettings;
  /**
   * bin/plugboard.js, to send deliveries from a thread running it (thread-host.ts), with the
   * settings from the environment; unset: from this event loop, with `deliveries`' settings.
   */
  readonly deliveryThread?: DeliveryThreadOptions;
  /**
   * The metrics GET /metrics serves, for a caller that registers more of its own (src/metrics.ts);
   * unset: made here. Ignored with PLUGBOARD_METRICS=off.
   */
  readonly metrics?: Metrics;
  /** The built console (dist/console/); unset: the nearest one above this module (findConsoleDir). */
  readonly consoleDir?: string;
  /**
   * The database's start checks, still running while the app is built (serve): `keyring` and
   * `hashing` are usable once they pass, so the deliveries start only then, and the caller must
   * not listen before. Unset: the deliveries start as the app is built.
   */
  readonly checked?: Promise<unknown>;
}

/** The app's deliveries thread, when it has one (serve waits for its boot before tuning the heap). */
export const appDeliveryThread = new WeakMap<FastifyInstance, DeliveryThread>();

/** The app's warm-up, once it listens (tests wait for it). */
export const warmUpOf = new WeakMap<FastifyInstance, WarmUp>();

/** The app's deliveries worker, when it runs one (tests and the benchmark look at it). */
export const workerOf = new WeakMap<FastifyInstance, DeliveryWorker>();

/** What the warm-up compiles, most needed first: the bodies' validators, then the answers' serializers. */
function* warmUpSteps(serializers: LazySerializers): Generator<() => unknown> {
  // Ajv and fast-json-stringify are loaded (from source: they are not in the bundle's code cache)
  // by these two, ~40 and ~15 ms; each type's validator is left to its first use (2-8 ms, and
  // ~0.3 MB each: all of them were 8 MB).
  yield eventValidator;
  let more = true;
  while (more)
    yield () => {
      more = serializers.compileNext();
    };
}

/** Builds the HTTP app: our plumbing first, then the routes. Listening is the caller's business. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { database } = options;
  const settings: Config = { ...defaultConfig(), ...options.settings };
  const { createStatus, revealSecrets } = settings;
  const serializers = lazySerializers();
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: requestIdFor,
    bodyLimit: BODY_LIMIT,
    // Requests arriving during shutdown get our own 503 (below), in the API's error shape.
    return503OnClosing: false,
    // A name of 255 characters can be 3 KiB once percent-encoded in /api/connectors/name/{name}.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 },
    // A malformed or over-long URL gets the API's error shape too, not Fastify's default body.
    frameworkErrors: frameworkErrorHandler,
    // A slow client cannot hold a connection forever.
    ...serverTimeoutOptions({ ...DEFAULT_TIMEOUTS, ...options.timeouts }),
    // Each response serializer is compiled at its first use, not all at start (serializers.ts).
    schemaController: { compilersFactory: { buildSerializer: serializers.factory } },
  });
  serializersOf.set(app, serializers);
  // Once listening, what the first requests would compile is compiled, a step per turn (warm-up.ts).
  let warming: WarmUp | undefined;
  /** Told once the server listens (a deliveries thread started before it begins sending then). */
  const onListening: (() => void)[] = [];
  let listening = false;
  app.addHook('onListen', (done) => {
    warming ??= warmUp(() => warmUpSteps(serializers), app.log);
    warmUpOf.set(app, warming);
    listening = true;
    for (const told of onListening.splice(0)) told();
    done();
  });
  app.addHook('preClose', (done) => {
    warming?.cancel();
    done();
  });
  // With the database's checks still in flight (serve), a turn of the event loop now and then
  // while building: each lets their next round trip go out, where they otherwise waited for the
  // whole build (~30 ms of CPU) between two of them and then ran idle after it (issue 15).
  const letChecksOn = options.checked
    ? () => new Promise<void>((resolve) => setImmediate(resolve))
    : () => Promise.resolve();
  await letChecksOn();

  installErrorHandler(app, BODY_LIMIT);
  const metrics = settings.metrics === 'off' ? undefined : (options.metrics ?? createMetrics());
  if (metrics && database.poolUse) registerPoolMetrics(metrics, database.poolUse);
  // First of the onRequest hooks: every answer, the shutdown 503 below included, has its X-Request-Id.
  installRequestLog(app, metrics?.observeRequest);
  // A client still sending a body it was refused (413) reads the answer instead of a reset.
  installLingeringClose(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    reply.header('Connection', 'close');
    done(errors.unavailable('the server is shutting down; retry on another instance or in a moment'));
  });
  installJsonBody(app);
  if (options.overload !== false) await installOverloadGuard(app, options.overload);
  // Before authentication and the routes: it counts some requests before authentication, the rest after.
  await installRateLimit(app, options.rateLimit ?? rateLimitOf(settings));
  const hashing = options.hashing ?? (await openHashing(database.db, options.keyring));
  const recentKeys = installAuth(app, { keys: createKeyStore(database.db, hashing) });
  await letChecksOn();
  const addMethodNotAllowed = collectRoutesForMethodNotAllowed(app);
  const routes = collectRoutes(app);

  // In the order the OpenAPI document lists them.
  const secretBox = createSecretBox(options.keyring);
  const connectors = createConnectorStore(
    database.db,
    secretBox,
    undefined,
    database.transact,
    settings.postgresReadCache === 'on' ? database.connectorChanges : undefined,
  );
  const idempotency = createIdempotencyStore(database.db, secretBox, hashing);
  connectorRoutes(app, { store: connectors, idempotency, createStatus, revealSecrets });
  await letChecksOn();
  const checks = options.checks ?? { ...DEFAULT_CHECK_SETTINGS, allowedTargets: settings.allowedTargets };
  checkRoutes(
    app,
    connectors,
    {
      http: createOutboundClient({ allowedTargets: checks.allowedTargets, timeoutMs: checks.timeoutMs }),
      endpoints: checks.endpoints ?? {},
      ...(checks.answers ? { answers: checks.answers } : {}),
    },
    new CheckLimiter(checks.concurrency ?? DEFAULT_CHECK_CONCURRENCY, checks.timeoutMs),
    metrics?.countCheck,
  );
  await letChecksOn();
  const deliveryStore = createDeliveryStore(database.db, database.relaxed, database.transact);
  if (metrics) registerQueueMetrics(metrics, () => deliveryStore.queueStats());
  const given = options.deliveries ?? {};
  const deliveryOf = given.deliveryOf ?? declaredDelivery;
  const timeoutMs = given.timeoutMs ?? settings.deliveryTimeout * 1000;
  const retentionMs = given.retentionMs ?? settings.deliveryRetentionDays * 86_400_000;
  const makeWorker = () =>
    new DeliveryWorker(
      deliveryStore,
      (accountId, id) => connectors.get(accountId, id),
      {
        http: createOutboundClient({
          allowedTargets: given.allowedTargets ?? checks.allowedTargets,
          timeoutMs,
        }),
        endpoints: checks.endpoints ?? {},
        ...(checks.answers ? { answers: checks.answers } : {}),
      },
      deliveryOf,
      {
        ...given,
        concurrency: given.concurrency ?? settings.deliveryConcurrency,
        timeoutMs,
        retentionMs,
        ...(metrics ? { onAttempt: metrics.countDeliveryAttempt } : {}),
      },
      app.log,
    );
  let engine: DeliveryEngine | undefined;
  let startEngine: () => void = () => {};
  if (given.worker !== false && options.deliveryThread !== undefined) {
    // Claims, sends and records on a thread of their own (SQLite): this event loop only accepts.
    let current: DeliveryEngine;
    const thread = new DeliveryThread({
      ...options.deliveryThread,
      log: app.log,
      stopWaitMs: Math.min(timeoutMs, 5_000) + 5_000,
      onAttempt: metrics?.countDeliveryAttempt,
      onFailure: () => {
        const worker = makeWorker();
        current = worker;
        worker.start();
      },
    });
    current = thread;
    engine = {
      notify: (connectorId, accountId) => {
        thread.start();
        current.notify(connectorId, accountId);
      },
      stop: () => current.stop(),
    };
    appDeliveryThread.set(app, thread);
    // Only once there is something to send: the thread costs 20-40 MB (a second V8 isolate with
    // the bundle), which a server that never delivers need not pay. A delivery accepted starts it
    // (notify, above); so does one found pending as the app is ready, before the server listens
    // (making the thread holds this event loop 3 to 15 ms, which listening waits for; booting it,
    // ~100-200 ms of its own CPU, then runs beside the start's end instead of after it, and it
    // claims only once the server listens: a restart with a queue resumes sending sooner), and
    // then every DELIVERY_THREAD_LOOK_MS (queued by something else than this server's API). So does
    // a finished delivery past the retention: the thread's worker is what prunes them.
    startEngine = () => {
      const look = async () => {
        if (closing || thread.started) return;
        try {
          const pastRetention = new Date(Date.now() - retentionMs).toISOString();
          // An early thread was made for work found as the start began (serve): it is taken now.
          if (options.deliveryThread?.early || (await deliveryStore.hasWork(pastRetention))) {
            // Before listening: it boots now and sends once the server listens (a start that fails
            // then sends nothing).
            thread.start({ held: !listening });
            if (!listening) onListening.push(() => thread.send());
            // The thread's claims and records are writes: without the checkpoint thread (started
            // by the first accept, which a queue left from before the start has not had), each
            // commit of the deliveries thread that takes the WAL past 1,000 pages checkpoints
            // (writes the pages back and fsyncs) on that thread, between its sends.
            database.checkpointInBackground?.();
          }
        } catch (error) {
          app.log.warn({ err: error }, 'could not look for pending deliveries; looking again shortly');
        }
        if (!closing && !thread.started) setTimeout(look, DELIVERY_THREAD_LOOK_MS).unref();
      };
      void look();
    };
  } else if (given.worker !== false) {
    const worker = makeWorker();
    workerOf.set(app, worker);
    engine = worker;
    startEngine = () => worker.start();
  }
  if (engine) {
    const started = engine;
    // Before the database closes (onClose): attempts in flight are recorded or released.
    app.addHook('preClose', async () => started.stop());
  }
  deliveryRoutes(app, {
    connectors,
    deliveries: deliveryStore,
    idempotency,
    deliveryOf,
    worker: engine,
    queueCap: given.queueCap ?? settings.deliveryQueueCap,
    ...(database.checkpointInBackground ? { onQueued: database.checkpointInBackground } : {}),
  });
  connectorTypeRoutes(app);
  await letChecksOn();
  auditRoutes(app, createAuditStore(database.db));
  meRoutes(app, revealSecrets);
  await letChecksOn();
  openApiRoutes(app, routes);
  await letChecksOn();
  healthRoutes(app, database);
  if (metrics && settings.metrics !== 'off') metricsRoutes(app, metrics, settings.metrics);
  if (settings.console === 'on') await consoleRoutes(app, options.consoleDir ?? findConsoleDir());
  addMethodNotAllowed();
  await letChecksOn();

  if (options.closeDatabase) app.addHook('onClose', async () => database.close());
  await app.ready();
  // GET one connector answered before Fastify in its plain case (fast-reads.ts); not with rate
  // limits, which count every request in Fastify's hooks.
  const rateLimited = (options.rateLimit ?? rateLimitOf(settings)) !== undefined;
  if (!rateLimited) {
    answerFirst(
      app.server,
      fastReads(app, { keys: recentKeys, store: connectors, revealSecrets, closing: () => closing }),
    );
  }
  // Every request's arrival: SQLite's write groups stay open while requests keep coming (group-commit.ts).
  app.server.prependListener('request', noteArrival);
  if (options.checked) options.checked.then(startEngine, () => {});
  else startEngine();
  return app;
}

function rateLimitOf({ rateLimit, redisUrl }: Config): RateLimitSettings | undefined {
  if (!rateLimit) return undefined;
  return { setting: rateLimit, ...(redisUrl ? { redisUrl } : {}) };
}
