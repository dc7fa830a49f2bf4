/** The API as the console uses it: same origin, the key from sessionStorage as a Bearer token. */

const KEY_ITEM = 'plugboard.apiKey';

/** What a secret param reads as for a key that may not see it (the API's placeholder). */
export const SECRET_PLACEHOLDER = '********';

export const PAGE_SIZE = 20;

export interface Me {
  account: string;
  role: 'read' | 'write';
  secrets: 'shown' | 'masked';
  key: { id: string; label: string; expiresAt?: string };
}

export interface ParamInfo {
  name: string;
  required: boolean;
  secret: boolean;
  format: 'text' | 'url';
  description: string;
}

export interface ConnectorType {
  id: string;
  displayName: string;
  description: string;
  params: ParamInfo[];
  checkable: boolean;
  check: string;
}

export interface CheckResult {
  ok: boolean;
  status: string;
  message: string;
  httpStatus?: number;
  latencyMs?: number;
  checkedAt: string;
}

export interface Connector {
  id: string;
  type: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  params: Record<string, string>;
  lastCheck?: CheckResult;
}

export interface ConnectorInput {
  type: string;
  name: string;
  params: Record<string, string>;
}

export interface AuditEvent {
  id: string;
  at: string;
  action: 'create' | 'update' | 'delete';
  connectorId: string;
  connectorName: string;
  connectorType: string;
  keyId: string;
  keyLabel: string;
  fields: string[];
}

export type DeliveryState = 'queued' | 'sending' | 'retrying' | 'delivered' | 'failed' | 'cancelled';

export interface DeliveryAttempt {
  number: number;
  startedAt: string;
  durationMs: number;
  httpStatus?: number;
  outcome: 'delivered' | 'retry' | 'failed' | 'interrupted';
  message: string;
}

export interface Delivery {
  id: string;
  connectorId: string;
  event: { eventType: string; summary?: string; alertKey?: string };
  state: DeliveryState;
  attempts: DeliveryAttempt[];
  nextAttemptAt?: string;
  externalRef?: { id?: string; url?: string };
  createdAt: string;
  finishedAt?: string;
}

export interface DeliveryInput {
  event: { eventType: 'ALERT'; summary: string; alertKey: string; details?: string };
  params?: Record<string, unknown>;
}

export interface FieldError {
  field: string;
  message: string;
}

/** An error answer of the API (or of the network), with the problems it names by JSON pointer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_ITEM);
}

/** Called when the API answers 401 to the stored key (revoked, expired): the console signs out. */
let onUnauthorized: (message: string) => void = () => {};
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

interface Answer<T> {
  body: T;
  etag: string | null;
}

async function call<T>(
  method: string,
  path: string,
  options: { body?: unknown; key?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const key = options.key ?? storedKey();
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (key) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(
      0,
      'NETWORK',
      'The server did not answer: check that Plugboard is running, then retry.',
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body ?? {}) as { code?: string; message?: string; errors?: FieldError[] };
    const failure = new ApiError(
      response.status,
      error.code ?? 'HTTP_ERROR',
      error.message ?? `The server answered ${response.status} ${response.statusText}.`,
      Array.isArray(error.errors) ? error.errors : [],
    );
    if (response.status === 401 && options.key === undefined) onUnauthorized(failure.message);
    throw failure;
  }
  return { body: body as T, etag: response.headers.get('etag') };
}

const page = (start: number) => `start-index=${start}&max-results=${PAGE_SIZE}`;

export const api = {
  me: (key?: string) => call<Me>('GET', '/me', key === undefined ? {} : { key }).then((a) => a.body),
  types: () => call<ConnectorType[]>('GET', '/connector-types').then((a) => a.body),
  connectors: (start: number) => call<Connector[]>('GET', `/connectors?${page(start)}`).then((a) => a.body),
  connector: (id: string) => call<Connector>('GET', `/connectors/${encodeURIComponent(id)}`),
  byName: (name: string) =>
    call<Connector>('GET', `/connectors/name/${encodeURIComponent(name)}`).then((a) => a.body),
  create: (input: ConnectorInput) =>
    call<Connector>('POST', '/connectors', { body: input }).then((a) => a.body),
  update: (id: string, input: ConnectorInput, etag: string | null) =>
    call<Connector>('PUT', `/connectors/${encodeURIComponent(id)}`, {
      body: input,
      ...(etag ? { headers: { 'if-match': etag } } : {}),
    }).then((a) => a.body),
  remove: (id: string) =>
    call<undefined>('DELETE', `/connectors/${encodeURIComponent(id)}`).then(() => undefined),
  check: (id: string) =>
    call<CheckResult>('POST', `/connectors/${encodeURIComponent(id)}/check`).then((a) => a.body),
  checkInput: (input: ConnectorInput) =>
    call<CheckResult>('POST', '/connectors/check', { body: input }).then((a) => a.body),
  deliveries: (connectorId: string, start: number) =>
    call<Delivery[]>('GET', `/deliveries?connector=${encodeURIComponent(connectorId)}&${page(start)}`).then(
      (a) => a.body,
    ),
  deliver: (connectorId: string, input: DeliveryInput) =>
    call<Delivery>('POST', `/connectors/${encodeURIComponent(connectorId)}/deliveries`, { body: input }).then(
      (a) => a.body,
    ),
  retry: (id: string) =>
    call<Delivery>('POST', `/deliveries/${encodeURIComponent(id)}/retry`).then((a) => a.body),
  cancel: (id: string) =>
    call<Delivery>('DELETE', `/deliveries/${encodeURIComponent(id)}`).then((a) => a.body),
  audit: (start: number) => call<AuditEvent[]>('GET', `/audit-events?${page(start)}`).then((a) => a.body),
};
