import { isRecord } from '../../is-record.js';
import type { OutboundMethod } from '../../outbound/types.js';
import { describeUnread } from '../checks/answer.js';
import type { TargetResponse } from '../checks/http.js';
import type { DeliveryOutcome, DeliveryRun } from '../delivery.js';
import { deliveryCall, judgeDelivery, readAnswer } from '../delivery-http.js';

/**
 * The calls of ticket targets: JSON in, JSON out, on top of delivery-http.ts (the run's SSRF-safe
 * client, its deadline, bounded answers read boundedly, credentials recorded for redaction, one
 * reading of statuses).
 */

/** What a step of a delivery came to: a value to go on with, or the outcome that ends the delivery. */
export type Step<T> = { readonly ok: T } | { readonly outcome: DeliveryOutcome };

export interface JsonRequest {
  readonly method: OutboundMethod;
  readonly url: string;
  /** Auth and anything else the target needs; `accept` and `content-type` are JSON unless given. */
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as JSON. */
  readonly json?: unknown;
}

export interface JsonAnswer {
  readonly status: number;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  readonly body: unknown;
  readonly response: TargetResponse;
}

/**
 * A non-2xx answer read the type's own way before the usual reading (judgeDelivery), e.g. GitHub's
 * exhausted rate limit, which comes as a 403; undefined leaves it to the usual reading.
 */
export type Judge = (response: TargetResponse) => DeliveryOutcome | undefined;

/** One JSON call: the parsed answer of a 2xx, or the outcome of anything else. */
export async function callJson(
  run: DeliveryRun,
  service: string,
  request: JsonRequest,
  judge?: Judge,
): Promise<Step<JsonAnswer>> {
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  if (request.json !== undefined) headers['content-type'] ??= 'application/json';
  const result = await deliveryCall(run, {
    method: request.method,
    url: request.url,
    headers,
    ...(request.json === undefined ? {} : { body: JSON.stringify(request.json) }),
  });
  if ('outcome' in result) return result;
  const { response } = result;
  if (response.status < 200 || response.status >= 300)
    return { outcome: judge?.(response) ?? judgeDelivery(response, service) };
  const reading = readAnswer(run, response);
  if (reading !== undefined && 'unread' in reading) {
    return {
      outcome: {
        result: 'failed',
        message: `${service} answered HTTP ${response.status} with ${describeUnread(reading.unread, run.answers)}, which is not how its API answers; check the URL`,
        httpStatus: response.status,
      },
    };
  }
  return { ok: { status: response.status, body: reading?.value, response } };
}

/** `body[name]` as text, when it is a non-empty string or a number (ids come as either). */
export function textField(body: unknown, name: string): string | undefined {
  if (!isRecord(body)) return undefined;
  const value = body[name];
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A 2xx that lacks what its API always sends back: not the target's API, or not the version we speak. */
export function unexpectedAnswer(service: string, answer: JsonAnswer, what: string): DeliveryOutcome {
  return {
    result: 'failed',
    message: `${service} answered HTTP ${answer.status} without ${what}; check that the URL is the ${service} API's base URL`,
    httpStatus: answer.status,
  };
}
