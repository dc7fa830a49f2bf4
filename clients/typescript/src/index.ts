import createFetchClient, { type Client } from 'openapi-fetch';
import { type ErrorBody, PlugboardError } from './errors.js';
import type { components, paths } from './openapi.js';
import { DEFAULT_RETRY, type RetryOptions, retryAfterMs, retryingFetch } from './retry.js';

export { type ErrorBody, type FieldError, PlugboardConnectionError, PlugboardError } from './errors.js';
export type { components, paths } from './openapi.js';
export { DEFAULT_RETRY, type RetryOptions, retryAfterMs } from './retry.js';

type Schemas = components['schemas'];
export type Connector = Schemas['Connector'];
/** A create or update body: one member per connector type, told apart by `type`. */
export type ConnectorInput = Schemas['ConnectorInput'];
export type ConnectorType = Schemas['ConnectorType'];
export type CheckResult = Schemas['CheckResult'];
export type ConnectorTypeInfo = Schemas['ConnectorTypeInfo'];
export type AuditEvent = Schemas['AuditEvent'];
/** A delivery of an event through a connector, with its attempts. */
export type Delivery = paths['/deliveries/{id}']['get']['responses'][200]['content']['application/json'];
export type DeliveryState = Delivery['state'];

export interface ClientOptions {
  /** Where the server is, e.g. `http://127.0.0.1:8080` (the `/api` prefix is added). */
  readonly baseUrl: string;
  /** An API key (`plugboard keys create`), sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Retries on 429 and 503 (honouring Retry-After) and after network errors; `false` for none. */
  readonly retry?: RetryOptions | false;
  /** The fetch to use (default: the global one); tests and proxies pass their own. */
  readonly fetch?: (request: Request) => Promise<Response>;
  /** Headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface PageOptions {
  /** Connectors per request, 1 to 100 (default 100). */
  readonly pageSize?: number;
  /** Where to start (default 0). */
  readonly startIndex?: number;
  readonly signal?: AbortSignal;
}

export interface WriteOptions {
  /** Only write if the connector still has this ETag (see `etagOf`); otherwise a 412 PlugboardError. */
  readonly ifMatch?: string;
  readonly signal?: AbortSignal;
}

export interface CreateOptions {
  /** Defaults to a new random key per call, reused by this call's retries: a retry never creates twice. */
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

const etags = new WeakMap<object, string>();

/** The ETag a connector was read or written with (for `If-Match`), or undefined if it did not come from the server. */
export function etagOf(connector: Connector): string | undefined {
  return etags.get(connector);
}

/** The body that updates a connector to what it holds: its type, name and params. */
export function toInput(connector: Pick<Connector, 'type' | 'name' | 'params'>): ConnectorInput {
  return { type: connector.type, name: connector.name, params: { ...connector.params } } as ConnectorInput;
}

/** A key unique enough for Idempotency-Key; crypto.randomUUID where there is one (secure contexts). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

function unwrap<T>({ data, error, response }: Answer<T>): T {
  if (response.ok) {
    const tag = response.headers.get('ETag');
    if (tag && typeof data === 'object' && data !== null) etags.set(data, tag);
    return data as T;
  }
  const body = typeof error === 'object' && error !== null ? (error as Partial<ErrorBody>) : undefined;
  const wait = retryAfterMs(response.headers.get('Retry-After'));
  throw new PlugboardError(response.status, body, wait === undefined ? undefined : Math.ceil(wait / 1000));
}

const headersOf = (entries: Record<string, string | undefined>) =>
  Object.fromEntries(
    Object.entries(entries).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );

/** The client: `connectors`, `types`, `auditEvents` and `deliveries`, and `raw`, the typed openapi-fetch client for anything else. */
export function createPlugboardClient(options: ClientOptions) {
  const base = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const retry = options.retry === false ? { ...DEFAULT_RETRY, retries: 0 } : options.retry;
  const raw: Client<paths> = createFetchClient<paths>({
    baseUrl: `${options.baseUrl.replace(/\/+$/, '')}/api`,
    fetch: retryingFetch(base, retry),
    headers: {
      Accept: 'application/json',
      ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
  });

  const connectors = {
    /** One page, in creation order. */
    async list(page: { startIndex?: number; maxResults?: number; signal?: AbortSignal } = {}) {
      return unwrap(
        await raw.GET('/connectors', {
          params: { query: { 'start-index': page.startIndex ?? 0, 'max-results': page.maxResults ?? 50 } },
          ...(page.signal ? { signal: page.signal } : {}),
        }),
      );
    },

    /** Every page, one request each, until a short page. */
    async *pages(options: PageOptions = {}): AsyncGenerator<Connector[], void, undefined> {
      const size = options.pageSize ?? 100;
      for (let start = options.startIndex ?? 0; ; start += size) {
        const page = await connectors.list({
          startIndex: start,
          maxResults: size,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        if (page.length > 0) yield page;
        if (page.length < size) return;
      }
    },

    /** Every connector of the account, page by page: `for await (const c of client.connectors.all())`. */
    async *all(options: PageOptions = {}): AsyncGenerator<Connector, void, undefined> {
      for await (const page of connectors.pages(options)) yield* page;
    },

    async get(id: string, signal?: AbortSignal) {
      return unwrap(
        await raw.GET('/connectors/{id}', { params: { path: { id } }, ...(signal ? { signal } : {}) }),
      );
    },

    /** By name; the name is percent-encoded here, so `/ ? # %` in it are fine. */
    async getByName(name: string, signal?: AbortSignal) {
      return unwrap(
        await raw.GET('/connectors/name/{name}', {
          params: { path: { name } },
          ...(signal ? { signal } : {}),
        }),
      );
    },

    /** Creates once, however often the request is retried (one Idempotency-Key per call). */
    async create(body: ConnectorInput, options: CreateOptions = {}) {
      const key = options.idempotencyKey ?? newIdempotencyKey();
      return unwrap(
        await raw.POST('/connectors', {
          body,
          params: { header: { 'Idempotency-Key': key } },
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
    },

    async update(id: string, body: ConnectorInput, options: WriteOptions = {}) {
      return unwrap(
        await raw.PUT('/connectors/{id}', {
          params: { path: { id }, header: headersOf({ 'If-Match': options.ifMatch }) },
          body,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
    },

    async delete(id: string, options: WriteOptions = {}): Promise<void> {
      const answer = await raw.DELETE('/connectors/{id}', {
        params: { path: { id }, header: headersOf({ 'If-Match': options.ifMatch }) },
        parseAs: 'text',
        ...(options.signal ? { signal: options.signal } : {}),
      });
      unwrap(answer);
    },

    /**
     * Read-modify-write: reads the connector, lets `change` make the new body from it, and writes
     * it with If-Match; if someone else wrote in between (412), reads and changes again, up to
     * `attempts` times in all.
     */
    async modify(
      id: string,
      change: (current: Connector) => ConnectorInput | Promise<ConnectorInput>,
      { attempts = 3, signal }: { attempts?: number; signal?: AbortSignal } = {},
    ): Promise<Connector> {
      for (let attempt = 1; ; attempt++) {
        const current = await connectors.get(id, signal);
        const ifMatch = etagOf(current);
        try {
          return await connectors.update(id, await change(current), {
            ...(ifMatch ? { ifMatch } : {}),
            ...(signal ? { signal } : {}),
          });
        } catch (error) {
          if (!(error instanceof PlugboardError && error.status === 412) || attempt >= attempts) throw error;
        }
      }
    },

    /** Checks the stored credentials against the target; the result is kept as the connector's `lastCheck`. */
    async check(id: string, signal?: AbortSignal) {
      return unwrap(
        await raw.POST('/connectors/{id}/check', { params: { path: { id } }, ...(signal ? { signal } : {}) }),
      );
    },

    /** Checks a body before it is saved; nothing is stored. */
    async checkUnsaved(body: ConnectorInput, signal?: AbortSignal) {
      return unwrap(await raw.POST('/connectors/check', { body, ...(signal ? { signal } : {}) }));
    },
  };

  const types = {
    /** Every connector type: its params (required, secret, format) and whether it can be checked. */
    async list(signal?: AbortSignal) {
      return unwrap(await raw.GET('/connector-types', signal ? { signal } : {}));
    },
  };

  const auditEvents = {
    /** One page of the account's audit trail, newest first (write keys only). */
    async list(page: { startIndex?: number; maxResults?: number; signal?: AbortSignal } = {}) {
      return unwrap(
        await raw.GET('/audit-events', {
          params: { query: { 'start-index': page.startIndex ?? 0, 'max-results': page.maxResults ?? 50 } },
          ...(page.signal ? { signal: page.signal } : {}),
        }),
      );
    },
  };

  const deliveries = {
    /** One page of the account's deliveries, newest first; `connector` and `state` filter them. */
    async list(
      page: {
        startIndex?: number;
        maxResults?: number;
        connector?: string;
        state?: DeliveryState;
        signal?: AbortSignal;
      } = {},
    ) {
      return unwrap(
        await raw.GET('/deliveries', {
          params: {
            query: {
              'start-index': page.startIndex ?? 0,
              'max-results': page.maxResults ?? 50,
              ...(page.connector ? { connector: page.connector } : {}),
              ...(page.state ? { state: page.state } : {}),
            },
          },
          ...(page.signal ? { signal: page.signal } : {}),
        }),
      );
    },

    async get(id: string, signal?: AbortSignal) {
      return unwrap(
        await raw.GET('/deliveries/{id}', { params: { path: { id } }, ...(signal ? { signal } : {}) }),
      );
    },

    /** Queues a failed (or cancelled) delivery again; 409 if it has not failed. */
    async retry(id: string, signal?: AbortSignal) {
      return unwrap(
        await raw.POST('/deliveries/{id}/retry', { params: { path: { id } }, ...(signal ? { signal } : {}) }),
      );
    },
  };

  return { raw, connectors, types, auditEvents, deliveries };
}

export type PlugboardClient = ReturnType<typeof createPlugboardClient>;
