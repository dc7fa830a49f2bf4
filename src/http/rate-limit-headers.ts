import type { RateLimitRule } from './rate-limit-setting.js';

/**
 * The budgets a request counts against, by their name in the RateLimit fields:
 * `key` per API key, `anonymous` per client address for requests without a valid key, and
 * `ip` per client address for all requests (the ilert preset).
 */
export type PolicyName = 'key' | 'anonymous' | 'ip';

export interface Policy {
  readonly name: PolicyName;
  readonly rule: RateLimitRule;
}

/** A policy's counter as this request left it. */
export interface Reading {
  readonly policy: Policy;
  /** Requests left in the window (`r`). */
  readonly remaining: number;
  /** Seconds until the window ends (`t`). */
  readonly resetSeconds: number;
}

/**
 * The fields of draft-ietf-httpapi-ratelimit-headers (drafts 07 to 11): Structured Field Lists
 * (RFC 9651) whose items are the policy's name as a String. No partition key (`pk`): it is
 * optional, and each policy's partition follows from the request (its key, or its address).
 */
export const POLICY_FIELD = 'RateLimit-Policy';
export const LIMIT_FIELD = 'RateLimit';

/** Whole seconds, at least 1: a window (`w`) must not be zero. */
function windowSeconds(rule: RateLimitRule): number {
  return Math.max(1, Math.round(rule.windowMs / 1000));
}

/** `RateLimit-Policy: "key";q=120;w=60, "ip";q=700;w=60`: each budget's quota and window. */
export function policyField(policies: readonly Policy[]): string {
  return policies.map(({ name, rule }) => `"${name}";q=${rule.max};w=${windowSeconds(rule)}`).join(', ');
}

/** `RateLimit: "key";r=117;t=42`: what is left of each budget, and for how long. */
export function limitField(readings: readonly Reading[]): string {
  return readings
    .map(({ policy, remaining, resetSeconds }) => `"${policy.name}";r=${remaining};t=${resetSeconds}`)
    .join(', ');
}
