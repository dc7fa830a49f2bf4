import type { OutboundClient } from '../../outbound/types.js';

/** What a check can use: the SSRF-safe HTTP client, and fixed endpoints that tests point at fakes. */
export interface CheckContext {
  readonly http: OutboundClient;
  readonly endpoints: { readonly github: string };
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
      run(params: Params, context: CheckContext): Promise<CheckOutcome>;
    }
  | {
      readonly kind: 'offline';
      /** Why it cannot be checked online, shown as the result's message. */
      readonly reason: string;
      /** A problem found offline (e.g. a URL that is not a webhook URL of this service), or undefined. */
      validate?(params: Params): string | undefined;
    };
