import { PlugboardConnectionError } from './errors.js';

export interface RetryOptions {
  /** Attempts after the first; 0 turns retries off. Default 3. */
  readonly retries?: number;
  /** The longest wait between attempts, Retry-After included; a longer Retry-After ends the retries. Default 30 s. */
  readonly maxDelayMs?: number;
  /** The first wait when the server names none (doubled each time, with jitter). Default 500 ms. */
  readonly baseDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { retries: 3, maxDelayMs: 30_000, baseDelayMs: 500 };

/** Statuses that mean "not done, ask again later": the rate limit (429) and overload or outage (503). */
const RETRIED_STATUSES = new Set([429, 503]);

/**
 * The wait a Retry-After header asks for, in milliseconds: delay-seconds or an HTTP date
 * (RFC 9110 10.2.3); undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Whether a request may be sent again after the connection failed (when it is not known whether
 * the server acted on it): reads, PUT and DELETE (idempotent), and a POST that carries an
 * Idempotency-Key (the server replays its first answer). A 429 or 503 is always safe to retry:
 * the server did not act on the request.
 */
function mayResendAfterNetworkError(request: Request): boolean {
  return request.method !== 'POST' || request.headers.has('Idempotency-Key');
}

const sleep = (ms: number, signal: AbortSignal | null) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/**
 * A fetch that sends a request again on 429 and 503, waiting as long as Retry-After says (or an
 * exponential backoff with jitter when it says nothing), and after a network error when resending
 * is safe. The last answer is returned as it is; a network error that outlasts the retries is a
 * PlugboardConnectionError.
 */
export function retryingFetch(
  base: (request: Request) => Promise<Response>,
  options: RetryOptions = {},
): (input: Request) => Promise<Response> {
  const { retries, maxDelayMs, baseDelayMs } = { ...DEFAULT_RETRY, ...options };
  return async (request) => {
    for (let attempt = 0; ; attempt++) {
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt * (0.5 + Math.random() / 2));
      let response: Response;
      try {
        response = await base(request.clone());
      } catch (error) {
        if (request.signal.aborted) throw error;
        if (attempt >= retries || !mayResendAfterNetworkError(request)) {
          throw new PlugboardConnectionError(request.url, { cause: error });
        }
        await sleep(backoff, request.signal);
        continue;
      }
      if (!RETRIED_STATUSES.has(response.status) || attempt >= retries) return response;
      const asked = retryAfterMs(response.headers.get('Retry-After'));
      if (asked !== undefined && asked > maxDelayMs) return response;
      await response.body?.cancel();
      await sleep(asked ?? backoff, request.signal);
    }
  };
}
