import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { RevealSecrets } from './config.js';
import { errors } from './errors.js';
import { installAuth } from './http/auth.js';
import { frameworkErrorHandler, installErrorHandler } from './http/error-handler.js';
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
import { healthRoutes } from './http/routes/health.js';
import { DEFAULT_TIMEOUTS, serverTimeoutOptions, type TimeoutSettings } from './http/timeouts.js';
import { buildOpenApiDocument } from './openapi/document.js';
import { createOutboundClient } from './outbound/client.js';
import { type Hashing, openHashing } from './secrets/hash-key.js';
import type { KeyringSource } from './secrets/keyring.js';
import { createSecretBox } from './secrets/secret-box.js';
import { createAuditStore } from './store/audit-store.js';
import { createConnectorStore } from './store/connector-store.js';
import type { DatabaseHandle } from './store/database.js';
import { createIdempotencyStore } from './store/idempotency-store.js';
import { createKeyStore } from './store/key-store.js';

/** Largest accepted request body; a connector is a few hundred bytes. */
export const BODY_LIMIT = 64 * 1024;

/** How credential checks call out (issue: connectors that prove they connect). */
export interface CheckSettings {
  /** Hosts and CIDRs that checks may call although they are private (PLUGBOARD_ALLOWED_TARGETS). */
  readonly allowedTargets: readonly string[];
  readonly timeoutMs: number;
  /** GitHub's API; a test points it at a fake. */
  readonly githubApiUrl: string;
}

export const DEFAULT_CHECK_SETTINGS: CheckSettings = {
  allowedTargets: [],
  timeoutMs: 5_000,
  githubApiUrl: 'https://api.github.com',
};

export interface AppOptions {
  readonly database: DatabaseHandle;
  readonly logger: FastifyBaseLogger;
  /** The master keys that seal secret params. */
  readonly keyring: KeyringSource;
  /** What key hashes and fingerprints are keyed with; unset: opened (made on first use) from the database. */
  readonly hashing?: Hashing;
  readonly createStatus?: 200 | 201;
  readonly revealSecrets?: RevealSecrets;
  readonly checks?: CheckSettings;
  /** Close the database when the app closes (the server owns it; tests may share one). */
  readonly closeDatabase?: boolean;
  /** Request budgets (PLUGBOARD_RATE_LIMIT, REDIS_URL); unset: no limit. */
  readonly rateLimit?: RateLimitSettings;
  /** When to answer 503 instead of queueing; unset: DEFAULT_OVERLOAD. */
  readonly overload?: OverloadSettings;
  /** Client timeouts; unset ones: DEFAULT_TIMEOUTS. */
  readonly timeouts?: Partial<TimeoutSettings>;
}

/** Builds the HTTP app: our plumbing first, then the routes. Listening is the caller's business. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { database, createStatus = 200, revealSecrets = 'write-keys' } = options;
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
  });

  installErrorHandler(app, BODY_LIMIT);
  // First of the onRequest hooks: every answer, the shutdown 503 below included, has its X-Request-Id.
  installRequestLog(app);
  // A client still sending a body it was refused (413) reads the answer instead of a reset.
  installLingeringClose(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('Connection', 'close');
    throw errors.unavailable('the server is shutting down; retry on another instance or in a moment');
  });
  installJsonBody(app);
  await installOverloadGuard(app, options.overload);
  // Before authentication and the routes: it counts some requests before authentication, the rest after.
  await installRateLimit(app, options.rateLimit);
  const hashing = options.hashing ?? (await openHashing(database.db, options.keyring));
  installAuth(app, { keys: createKeyStore(database.db, hashing) });
  const addMethodNotAllowed = collectRoutesForMethodNotAllowed(app);

  const openApiDocument = JSON.stringify(buildOpenApiDocument({ createStatus }));
  app.get('/api/openapi.json', { config: { public: true } }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(openApiDocument),
  );
  healthRoutes(app, database);
  const secretBox = createSecretBox(options.keyring);
  const connectors = createConnectorStore(database.db, secretBox);
  const idempotency = createIdempotencyStore(database.db, secretBox, hashing);
  connectorRoutes(app, { store: connectors, idempotency, createStatus, revealSecrets });
  const checks = options.checks ?? DEFAULT_CHECK_SETTINGS;
  checkRoutes(app, connectors, {
    http: createOutboundClient({ allowedTargets: checks.allowedTargets, timeoutMs: checks.timeoutMs }),
    endpoints: { github: checks.githubApiUrl },
  });
  connectorTypeRoutes(app);
  auditRoutes(app, createAuditStore(database.db));
  addMethodNotAllowed();

  if (options.closeDatabase) app.addHook('onClose', async () => database.close());
  await app.ready();
  return app;
}
