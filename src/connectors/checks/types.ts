import type { OutboundClient } from '../../outbound/types.js';
import type { AnswerLimits } from './answer.js';
import type { Redactor } from './redact.js';

/** What checks can use: the SSRF-safe HTTP client, and the fixed endpoints pointed elsewhere. */
export interface CheckContext {
  readonly http: OutboundClient;
  /**
   * Fixed endpoints (a type's `endpoint`, such as GitHub's API) pointed elsewhere, by type id; a type
   * not named here calls the endpoint it declares. Tests point them at fakes.
   */
  readonly endpoints: Readonly<Record<string, string>>;
  /** How much of a JSON answer is read (answer.ts); unset: ANSWER_LIMITS. A benchmark lifts them for its baseline. */
  readonly answers?: AnswerLimits;
}

/** One run of one check: the context, plus what binds all the calls of that run together. */
export interface CheckRun extends CheckContext {
  /** Epoch ms by which every call of the check must be complete: one time limit for the whole check. */
  readonly deadline: number;
  /** Every credential the check sends, collected by `call`, so that none comes back in the message. */
  readonly redactor: Redactor;
}

/** The run of a type that declares a fixed endpoint: where that endpoint is for this run. */
export interface EndpointRun extends CheckRun {
  readonly endpoint: string;
}

/**
 * `blocked`: the target is on an address outside the public internet that PLUGBOARD_ALLOWED_TARGETS
 * does not allow; nothing was sent, so nothing is known about the credentials.
 */
export type CheckStatus = 'ok' | 'failed' | 'unreachable' | 'blocked' | 'not_checkable';

/** What one check found; a failed check is a result, not an error of our API. */
export interface CheckOutcome {
  readonly status: CheckStatus;
  /** What the target said (its status and short message), or why it could not be asked. Never a credential. */
  readonly message: string;
  readonly httpStatus?: number;
}

/** Params as stored and validated, before a type's declaration gives them their names. */
export type Params = Readonly<Record<string, string>>;

/**
 * How a type checks its credentials: `online` with the cheapest authenticated read the target
 * offers, or `offline` when the only way to test would be to post a message (or there are no
 * credentials): then only what can be validated without calling it. `P` is the type's params as
 * its declaration names them; `R` what a run gives the check.
 */
export type CheckDefinition<P = Params, R extends CheckRun = CheckRun> =
  | {
      readonly kind: 'online';
      /** What the check asks of the target: shown in the type catalog and the README. */
      readonly description: string;
      run(params: P, run: R): Promise<CheckOutcome>;
    }
  | {
      readonly kind: 'offline';
      /** Why it cannot be checked online, shown as the result's message. */
      readonly reason: string;
      /** What can be checked without calling the target (e.g. that a URL is a webhook URL of this service). */
      readonly validate?: {
        /** What is checked, for the README. */
        readonly description: string;
        /** The problem found, or undefined. */
        problem(params: P): string | undefined;
      };
    };
