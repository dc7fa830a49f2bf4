import { OutboundError, type OutboundRequest, type OutboundResponse } from '../../outbound/types.js';
import type { CheckContext, CheckOutcome, Params } from './types.js';

/** A param that validation guarantees is present (required by the type). */
export function value(params: Params, name: string): string {
  return params[name] ?? '';
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** `base` (with or without a trailing slash, maybe with a path) joined with an absolute `path`. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

const MAX_MESSAGE = 200;

/** The first non-empty string in `values`, looking into arrays and objects breadth-first, boundedly. */
function firstString(...values: unknown[]): string | undefined {
  const queue: unknown[] = [...values];
  for (let seen = 0; seen < queue.length && seen < 200; seen++) {
    const value = queue[seen];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    if (Array.isArray(value)) queue.push(...value.slice(0, 20));
    else if (typeof value === 'object' && value !== null) queue.push(...Object.values(value).slice(0, 20));
  }
  return undefined;
}

/** The target's own short message from a JSON error body (Jira, ServiceNow, Zendesk, GitHub, …), if any. */
export function targetMessage(response: OutboundResponse): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const error =
    typeof b.error === 'object' && b.error !== null ? (b.error as Record<string, unknown>) : undefined;
  const found = firstString(
    b.errorMessages,
    b.message,
    error?.message,
    error?.data,
    b.error,
    b.description,
    b.error_description,
    b.errors,
  );
  return found && found.length > MAX_MESSAGE ? `${found.slice(0, MAX_MESSAGE)}…` : found;
}

/** `HTTP 401 (Unauthorized): <what the target said>` */
export function describeResponse(response: OutboundResponse): string {
  const said = targetMessage(response);
  return `HTTP ${response.status}${said ? `: ${said}` : ''}`;
}

/** Calls the target; a network failure becomes the check's result instead of an exception. */
export async function call(
  context: CheckContext,
  request: OutboundRequest,
): Promise<{ response: OutboundResponse } | { outcome: CheckOutcome }> {
  try {
    return { response: await context.http.request(request) };
  } catch (error) {
    if (!(error instanceof OutboundError)) throw error;
    const status = error.kind === 'blocked' ? 'failed' : 'unreachable';
    return { outcome: { status, message: error.message } };
  }
}

function redirectHost(response: OutboundResponse): string {
  const location = response.headers.location;
  if (!location || !URL.canParse(location, response.url)) return '';
  return ` to ${new URL(location, response.url).host}`;
}

/**
 * The usual reading of an authenticated GET: 2xx is ok, 401/403 means the credentials were
 * refused, 404 that the URL is not the service's, anything else a failure with what it said.
 */
export function judge(response: OutboundResponse, service: string): CheckOutcome {
  const httpStatus = response.status;
  if (httpStatus >= 200 && httpStatus < 300)
    return { status: 'ok', message: `${service} accepted the credentials`, httpStatus };
  if (httpStatus === 401 || httpStatus === 403) {
    return {
      status: 'failed',
      message: `${service} refused the credentials (${describeResponse(response)})`,
      httpStatus,
    };
  }
  if (httpStatus === 404) {
    return {
      status: 'failed',
      message: `${service} API not found at this URL (${describeResponse(response)}); check the base URL`,
      httpStatus,
    };
  }
  if (httpStatus >= 300 && httpStatus < 400) {
    return {
      status: 'failed',
      message: `the URL redirects elsewhere (HTTP ${httpStatus}${redirectHost(response)}); use the final base URL`,
      httpStatus,
    };
  }
  return { status: 'failed', message: `${service} answered ${describeResponse(response)}`, httpStatus };
}

/** One authenticated GET, judged the usual way. */
export async function getAndJudge(
  context: CheckContext,
  service: string,
  url: string,
  headers: Record<string, string>,
): Promise<CheckOutcome> {
  const result = await call(context, {
    method: 'GET',
    url,
    headers: { accept: 'application/json', ...headers },
  });
  return 'outcome' in result ? result.outcome : judge(result.response, service);
}
