/** The methods checks and deliveries use. */
export const OUTBOUND_METHODS = ['GET', 'POST', 'PUT', 'PATCH'] as const;
export type OutboundMethod = (typeof OUTBOUND_METHODS)[number];

/** A request to a connector's target system (a credential check or a delivery). */
export interface OutboundRequest {
  readonly method: OutboundMethod;
  /** Absolute http: or https: URL. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The User-Agent: `Plugboard-Check/1` unless given (deliveries send `Plugboard/<version>`). */
  readonly userAgent?: string;
  /**
   * Epoch milliseconds by which the call must be complete, when it is shorter than the client's own
   * time limit: several calls of one credential check share one deadline.
   */
  readonly deadline?: number;
  /**
   * Calls naming the same pool may reuse each other's connections (keep-alive): the deliveries of
   * one connector. Without one, each call opens its own connection and closes it (checks).
   */
  readonly pool?: string;
}

export interface OutboundResponse {
  readonly status: number;
  /** The reason phrase of the status line (`Unauthorized`), as the target sent it; may be empty. */
  readonly statusMessage: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as UTF-8 text, at most `maxBytes` of it. */
  readonly body: string;
  /** The URL that answered (after same-host redirects). */
  readonly url: string;
}

/**
 * Why a call did not produce a response:
 * - `blocked`: the target is (or resolves to) a refused address, or a redirect left the host;
 * - `invalid_header`: a request header holds characters HTTP does not allow (a line break, a
 *   character beyond Latin-1); nothing was sent;
 * - `dns`: the host name does not resolve;
 * - `connect`: the connection was refused or reset, or the server hung up without answering;
 * - `timeout`: no complete answer within the time limit;
 * - `too_large`: the answer was larger than the limit;
 * - `protocol`: anything else (a TLS failure, a malformed answer).
 */
export type OutboundFailure =
  | 'blocked'
  | 'invalid_header'
  | 'dns'
  | 'connect'
  | 'timeout'
  | 'too_large'
  | 'protocol';

export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

/**
 * A `blocked` call refused by policy: the target is (or resolves to) an address outside the
 * public internet that PLUGBOARD_ALLOWED_TARGETS does not allow. Other `blocked` calls are URLs
 * that cannot be called at all (not http:, with a user name, no host).
 */
export class RefusedAddressError extends OutboundError {
  constructor(message: string) {
    super('blocked', message);
    this.name = 'RefusedAddressError';
  }
}

/** Makes outbound HTTP calls that are safe from server-side request forgery. */
export interface OutboundClient {
  /** The time limit of one call, in milliseconds; a caller's `deadline` can only shorten it. */
  readonly timeoutMs: number;
  /** The most body bytes read from one answer. */
  readonly maxBytes: number;
  request(request: OutboundRequest): Promise<OutboundResponse>;
}

export interface OutboundOptions {
  /**
   * Exceptions to the refused ranges: host names (exact, case-insensitive; e.g. `jira.corp.local`)
   * and CIDRs / single addresses (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`). From PLUGBOARD_ALLOWED_TARGETS.
   */
  readonly allowedTargets?: readonly string[];
  /** Default 5000. */
  readonly timeoutMs?: number;
  /** Default 1 MiB. */
  readonly maxBytes?: number;
  /** Same-host redirects followed, at most. Default 3. */
  readonly maxRedirects?: number;
}
