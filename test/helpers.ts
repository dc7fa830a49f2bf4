import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { type AppOptions, buildApp, type CheckSettings, type DeliverySettings } from '../src/app.js';
import type { MetricsAccess, RevealSecrets } from '../src/config.js';
import type { ConnectorType } from '../src/connectors/define.js';
import {
  type ConnectorTypeId,
  connectorTypes,
  findConnectorType,
  type RegisteredType,
} from '../src/connectors/registry.js';
import { createLogger } from '../src/logger.js';
import type { Hashing } from '../src/secrets/hash-key.js';
import { ephemeralKeyring, type KeyringSource } from '../src/secrets/keyring.js';
import type { DatabaseHandle } from '../src/store/database.js';
import { createKeyStore } from '../src/store/key-store.js';
import { openHashing } from '../src/store/sealed/hash-key.js';
import { openTestDatabase } from './backend.js';

export interface TestKeys {
  /** Write key of account `acme`. */
  readonly write: string;
  /** Read key of account `acme`. */
  readonly read: string;
  /** Write key of another account, `globex`. */
  readonly otherWrite: string;
  /** Read key of `globex`. */
  readonly otherRead: string;
}

export interface TestContext {
  readonly app: FastifyInstance;
  readonly database: DatabaseHandle;
  /** The database's keyed hashing: `createKeyStore(t.database.db, t.hashing)` makes keys the app accepts. */
  readonly hashing: Hashing;
  /** The master keys the app seals with (a second app on the same database uses them too, unless told otherwise). */
  readonly keyring: KeyringSource;
  readonly keys: TestKeys;
  /** Every log line the app wrote (at `logLevel` and above), raw JSON text. */
  readonly logs: string[];
  /** app.inject with `Authorization: Bearer <key>` (write key by default) and a JSON body. */
  call(method: InjectOptions['method'], url: string, options?: CallOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface CallOptions {
  /** The API key; `null` sends no Authorization header. Default: the `acme` write key. */
  readonly key?: string | null;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** A fresh app on a fresh database of the backend under test (test/backend.ts) with two accounts and their keys. */
export async function buildTestApp(
  options: {
    createStatus?: 200 | 201;
    path?: string;
    revealSecrets?: RevealSecrets;
    keyring?: KeyringSource;
    checks?: CheckSettings;
    /** On SQLite, a file rather than memory, so that `sameDatabaseAs` can open it again. */
    shareable?: boolean;
    /** A second app on the database of this one (two servers, one database). */
    sameDatabaseAs?: TestContext;
    /** Bounded-load settings passed to buildApp as they are. */
    limits?: Pick<AppOptions, 'rateLimit' | 'overload' | 'timeouts'>;
    /** The lowest level logged into `logs` (default trace: every line). */
    logLevel?: string;
    /** How deliveries are sent (the worker's settings, a test's own type definitions). */
    deliveries?: DeliverySettings;
    /** PLUGBOARD_METRICS (default: its default, `key`). */
    metrics?: MetricsAccess;
    /** PLUGBOARD_CONSOLE (default on) and where the built console is (default: dist/console/). */
    console?: 'on' | 'off';
    consoleDir?: string;
    /** PLUGBOARD_POSTGRES_READ_CACHE (default: its default, `on`). */
    postgresReadCache?: 'on' | 'off';
  } = {},
): Promise<TestContext> {
  const testDatabase = await openTestDatabase({
    ...(options.path === undefined ? {} : { sqlitePath: options.path }),
    ...(options.sameDatabaseAs === undefined ? {} : { sameAs: options.sameDatabaseAs.database.location }),
    ...(options.shareable ? { shareable: true } : {}),
  });
  const database = testDatabase.handle;
  const keyring = options.keyring ?? options.sameDatabaseAs?.keyring ?? ephemeralKeyring();
  const hashing = await openHashing(database.db, keyring);
  const keyStore = createKeyStore(database.db, hashing);
  const keys: TestKeys = {
    write: (await keyStore.create('acme', 'write', 'test write')).secret,
    read: (await keyStore.create('acme', 'read', 'test read')).secret,
    otherWrite: (await keyStore.create('globex', 'write', 'other write')).secret,
    otherRead: (await keyStore.create('globex', 'read', 'other read')).secret,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp({
    database,
    logger: createLogger(options.logLevel ?? 'trace', sink),
    keyring,
    settings: {
      createStatus: options.createStatus ?? 201,
      revealSecrets: options.revealSecrets ?? 'write-keys',
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      console: options.console ?? 'on',
      ...(options.postgresReadCache === undefined ? {} : { postgresReadCache: options.postgresReadCache }),
    },
    ...(options.consoleDir === undefined ? {} : { consoleDir: options.consoleDir }),
    ...(options.checks ? { checks: options.checks } : {}),
    // No overload guard: a test worker starved of CPU on a loaded machine gets no event-loop
    // sample in an interval, which @fastify/under-pressure 9.2 reads as an infinite delay, so
    // every request got 503 whatever the threshold. Its own tests (overload.test.ts) pass theirs.
    overload: false,
    ...options.limits,
    ...(options.deliveries ? { deliveries: options.deliveries } : {}),
    closeDatabase: true,
  });
  return {
    app,
    database,
    hashing,
    keyring,
    keys,
    logs,
    call(method, url, { key = keys.write, body, headers = {} } = {}) {
      const all: Record<string, string> = { ...headers };
      if (key !== null) all.authorization = `Bearer ${key}`;
      if (body !== undefined && all['content-type'] === undefined) all['content-type'] = 'application/json';
      return app.inject({
        method,
        url,
        headers: all,
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    },
    async close() {
      await app.close();
      await testDatabase.dispose();
    },
  };
}

/**
 * Check settings' `endpoints` that point every type with a fixed endpoint (GitHub's API) at
 * `where(type)`, e.g. a fake of that system.
 */
export function endpointsAt(
  where: (type: RegisteredType) => string,
): Partial<Record<ConnectorTypeId, string>> {
  const endpoints: Partial<Record<ConnectorTypeId, string>> = {};
  for (const type of connectorTypes) if (type.endpoint !== undefined) endpoints[type.id] = where(type);
  return endpoints;
}

/**
 * Apps for checks against fakes, so that the check of any type calls the base URL a test gives it:
 * a type whose params hold its URL calls it on one shared app; a type with a fixed endpoint (GitHub's
 * API) calls it on an app whose endpoint points there, made on first use.
 */
export class CheckApps {
  private readonly apps = new Map<string, Promise<TestContext>>();

  constructor(private readonly settings: Omit<CheckSettings, 'endpoints'>) {}

  /** The app whose fixed endpoints point nowhere else: for every type whose params say where. */
  shared(): Promise<TestContext> {
    return this.app('', {});
  }

  /** The app on which the check of `type` calls `base`. */
  for(type: RegisteredType, base: string): Promise<TestContext> {
    return type.endpoint === undefined
      ? this.shared()
      : this.app(
          base,
          endpointsAt(() => base),
        );
  }

  async close(): Promise<void> {
    await Promise.all([...this.apps.values()].map(async (app) => (await app).close()));
  }

  private app(key: string, endpoints: NonNullable<CheckSettings['endpoints']>): Promise<TestContext> {
    let app = this.apps.get(key);
    if (!app) {
      app = buildTestApp({ checks: { ...this.settings, endpoints } });
      this.apps.set(key, app);
    }
    return app;
  }
}

/** A registered connector type, by id; throws for an unknown id so tests fail loudly. */
export function typeOf(id: string): RegisteredType {
  const type = findConnectorType(id);
  if (!type) throw new Error(`connector type ${id} is not registered`);
  return type;
}

/** Params that satisfy a type: every declared param, URLs as https URLs. `marker` makes values unique. */
export function validParams(type: ConnectorType, marker = 'x'): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, spec] of Object.entries(type.params)) {
    params[name] =
      spec.format === 'url'
        ? `https://${type.id.replaceAll('_', '-')}.example.com/${marker}/${name}`
        : `${name}-${marker}`;
  }
  return params;
}

/** A valid connector body of the given type. */
export function validBody(type: ConnectorType, name = `${type.id} connector`, marker = 'x') {
  return { name, type: type.id, params: validParams(type, marker) };
}

export function json<T = unknown>(response: LightMyRequestResponse): T {
  return response.json() as T;
}

/** The error shape every 4xx and 5xx carries. */
export interface ErrorResponse {
  status: number;
  code: string;
  message: string;
  errors?: { field: string; message: string }[];
}

/**
 * One HTTP/1.1 request written raw over a connection of its own (`Connection: close`), so that a
 * test sees the bytes a server writes, the fast path's included: everything written back.
 */
export async function rawRequest(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  body = '',
): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  await new Promise((resolve) => socket.once('close', resolve));
  return received;
}
