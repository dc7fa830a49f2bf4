import type { OutboundClient } from '../../outbound/types.js';
import type { Redactor } from './redact.js';

/** What checks can use: the SSRF-safe HTTP client, and fixed endpoints that tests point at fakes. */
export interface CheckContext {
  readonly http: OutboundClient;
  readonly endpoints: { readonly github: string };
}

/** One run of one check: the context, plus what binds all the calls of that run together. */
export interface CheckRun extends CheckContext {
  /** Epoch ms by which every call of the check must be complete: one time limit for the whole check. */
  readonly deadline: number;
  /** Every credential the check sends, collected by `call`, so that none comes back in the message. */
  readonly redactor: Redactor;
}

export type CheckStatus = 'ok' | 'failed' | 'unreachable' | 'not_checkable';

/** What one check found; a failed check is a result, not an error of our API. */
export interface CheckOutcome {
  readonly status: CheckStatus;
  /** What the target said (its status and short message), or why it could not be asked. Never a credential. */
  readonly message: string;
  readonly httpStatus?: number;
}

export type Params = Readonly<Record<string, string>>;

/**
 * How a type checks its credentials: `online` with the cheapest authenticated read the target
 * offers, or `offline` when the only way to test would be to post a message (or there are no
 * credentials): then only what can be validated without calling it.
 */
export type CheckDefinition =
  | {
      readonly kind: 'online';
      readonly description: string;
      run(params: Params, run: CheckRun): Promise<CheckOutcome>;
    }
  | {
      readonly kind: 'offline';
      /** Why it cannot be checked online, shown as the result's message. */
      readonly reason: string;
      /** A problem found offline (e.g. a URL that is not a webhook URL of this service), or undefined. */
      validate?(params: Params): string | undefined;
    };
