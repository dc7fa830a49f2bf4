import type { TargetResponse } from '../checks/http.js';
import type { DeliveryOutcome, DeliveryRun } from '../delivery.js';
import { deliveryCall, judgeDelivery, readAnswer, retryAfterMs } from '../delivery-http.js';

export interface ChatPost {
  /** The webhook URL; when it carries the credential (`secretUrl`), it is redacted from every message. */
  readonly url: string;
  readonly secretUrl: boolean;
  readonly body: unknown;
  /** Extra headers (a credential header is recorded for redaction by the call). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The target's own reading of an answer, when it differs from the usual one (DingTalk's errcode in
   * a 200, an id to keep): given the answer and the usual outcome, the outcome to report.
   */
  readonly read?: (response: TargetResponse, usual: DeliveryOutcome) => DeliveryOutcome;
}

/**
 * How long a 429 asks to wait when it has no Retry-After: Discord's `X-RateLimit-Reset-After`
 * (seconds, with a fraction) or a JSON body's `retry_after` (seconds; Discord, Slack's Web API).
 */
export function rateLimitWait(run: DeliveryRun, response: TargetResponse): number | undefined {
  const header = retryAfterMs(response.headers['x-ratelimit-reset-after']);
  if (header !== undefined) return header;
  const body = answerOf(run, response);
  if (typeof body === 'object' && body !== null && 'retry_after' in body) {
    const seconds = body.retry_after;
    if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0)
      return Math.ceil(seconds * 1000);
  }
  return undefined;
}

/** A JSON answer's value, read boundedly (readAnswer); undefined when it is not JSON or too much to read. */
export function answerOf(run: DeliveryRun, response: TargetResponse): unknown {
  const reading = readAnswer(run, response);
  return reading && 'value' in reading ? reading.value : undefined;
}

/**
 * One chat message posted as JSON through the run's SSRF-safe client under the attempt's deadline,
 * the answer read the usual way (2xx delivered; 408, 425, 429, 5xx retried after the wait the target
 * asks; other 4xx failed) and then by the target's own reading.
 */
export async function postChat(run: DeliveryRun, service: string, post: ChatPost): Promise<DeliveryOutcome> {
  if (post.secretUrl) run.redactor.addSecret(post.url);
  const result = await deliveryCall(run, {
    method: 'POST',
    url: post.url,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      accept: 'application/json',
      ...post.headers,
    },
    body: JSON.stringify(post.body),
  });
  if ('outcome' in result) return result.outcome;
  const { response } = result;
  let usual = judgeDelivery(response, service);
  if (usual.result === 'retry' && usual.retryAfterMs === undefined) {
    const wait = rateLimitWait(run, response);
    if (wait !== undefined) usual = { ...usual, retryAfterMs: wait };
  }
  return post.read ? post.read(response, usual) : usual;
}

/** The usual outcome, when delivered, with the message said the target's way and the ref it gave. */
export function posted(
  usual: DeliveryOutcome,
  message: string,
  externalRef?: { readonly id?: string; readonly url?: string },
): DeliveryOutcome {
  if (usual.result !== 'delivered') return usual;
  return {
    ...usual,
    message,
    ...(externalRef && (externalRef.id || externalRef.url) ? { externalRef } : {}),
  };
}
