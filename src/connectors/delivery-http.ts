import type { OutboundRequest } from '../outbound/types.js';
import { VERSION } from '../version.js';
import { type JsonReading, readJson } from './checks/answer.js';
import { call, describeResponse, type TargetResponse } from './checks/http.js';
import type { DeliveryOutcome, DeliveryRun } from './delivery.js';

/** Who delivers, to the target (checks say `Plugboard-Check/1`). */
export const DELIVERY_USER_AGENT = `Plugboard/${VERSION}`;

/** Statuses worth another attempt later: the target may take the same request then. */
const TRANSIENT = new Set([408, 425, 429]);

export function isTransientStatus(status: number): boolean {
  return TRANSIENT.has(status) || status >= 500;
}

/**
 * Milliseconds a `Retry-After` value asks to wait (delta-seconds or an HTTP date), or undefined when
 * there is none or it cannot be read. `now` for tests.
 */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (/^\d+\.\d+$/.test(text)) return Math.ceil(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return undefined;
  return Math.max(0, at - now);
}

/**
 * The usual reading of a delivery's answer: 2xx delivered, 408/425/429/5xx retried (honouring
 * Retry-After), any other status a permanent failure saying what the target said.
 */
export function judgeDelivery(response: TargetResponse, service: string): DeliveryOutcome {
  const httpStatus = response.status;
  if (httpStatus >= 200 && httpStatus < 300)
    return { result: 'delivered', message: `${service} answered HTTP ${httpStatus}`, httpStatus };
  if (isTransientStatus(httpStatus)) {
    const wait = retryAfterMs(response.headers['retry-after']);
    return {
      result: 'retry',
      message: `${service} answered ${describeResponse(response)}`,
      httpStatus,
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    };
  }
  const hint =
    httpStatus === 401 || httpStatus === 403
      ? '; check the credentials (POST /api/connectors/{id}/check)'
      : httpStatus === 404
        ? '; check the URL and the delivery options'
        : '';
  return {
    result: 'failed',
    message: `${service} answered ${describeResponse(response)}${hint}`,
    httpStatus,
  };
}

/**
 * One call of a delivery under the attempt's deadline, after recording every credential header it
 * sends (as checks do): the target's answer, or the outcome when there was none. Connection errors,
 * timeouts and protocol errors are retried; a refused target (SSRF guard), a header that cannot be
 * sent or an answer over the size limit are permanent.
 */
export async function deliveryCall(
  run: DeliveryRun,
  request: OutboundRequest,
): Promise<{ response: TargetResponse } | { outcome: DeliveryOutcome }> {
  const result = await call(run, { ...request, userAgent: request.userAgent ?? DELIVERY_USER_AGENT });
  if ('response' in result) return result;
  const { status, message } = result.outcome;
  return { outcome: status === 'unreachable' ? { result: 'retry', message } : { result: 'failed', message } };
}

/** One call judged the usual way (see judgeDelivery). */
export async function sendAndJudge(
  run: DeliveryRun,
  service: string,
  request: OutboundRequest,
): Promise<DeliveryOutcome> {
  const result = await deliveryCall(run, request);
  return 'outcome' in result ? result.outcome : judgeDelivery(result.response, service);
}

/**
 * A delivery's JSON answer read the way checks read theirs (checks/answer.ts): parsed only when a
 * cheap scan found it small and shallow, so a target answering megabytes of `[[[…]]]` cannot hold
 * the event loop. `{value}`, `{unread}` (JSON too large, deep or full; describeUnread says which),
 * or undefined when the body is not JSON.
 */
export function readAnswer(run: DeliveryRun, response: TargetResponse): JsonReading | undefined {
  return readJson(response.body, run.answers);
}
