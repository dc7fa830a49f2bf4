import { ErrorSchema } from '../connectors/schemas.js';
import { jsonResponse, type ResponseDoc, withHeaders } from '../openapi/route-schema.js';

/**
 * The error answers that routes share, for their schemas (route-schema.ts): what the plumbing in
 * front of every route (auth, rate limits, the overload guard, the JSON body parser) can answer.
 */

export function errorResponse(description: string): ResponseDoc {
  return jsonResponse(description, ErrorSchema);
}

/** The header of an answer that asks the client to come back later (429, 503). */
export const RetryAfterHeader = {
  'Retry-After': 'Seconds to wait before sending the request again',
} as const;
/** The headers of a 429 for the rate limit (draft-ietf-httpapi-ratelimit-headers), besides Retry-After. */
export const RateLimitHeaders = {
  ...RetryAfterHeader,
  'RateLimit-Policy': 'The rate limit of PLUGBOARD_RATE_LIMIT that applies (sent only while one is set)',
  RateLimit: 'What is left of that limit, and in how many seconds it resets',
} as const;

/** What any route that needs an API key can answer instead of its own. */
export const keyErrors = {
  401: withHeaders(
    errorResponse('Missing, malformed, unknown, revoked or expired API key (with WWW-Authenticate: Bearer)'),
    { 'WWW-Authenticate': 'Bearer realm="plugboard", with error="invalid_token" for a key that was refused' },
  ),
  429: withHeaders(
    errorResponse(
      'Over the rate limit, when PLUGBOARD_RATE_LIMIT is set (with Retry-After and RateLimit headers)',
    ),
    RateLimitHeaders,
  ),
  503: withHeaders(
    errorResponse(
      'The database is unavailable or the server is overloaded or shutting down (with Retry-After)',
    ),
    RetryAfterHeader,
  ),
} as const;

/** What a route for write keys only can answer: a read key gets 403. */
export const writeKeyErrors = { ...keyErrors, 403: errorResponse('The API key has the read role') } as const;

/** What a route that reads a connector body can answer. */
export const connectorBodyErrors = {
  400: errorResponse('The body is not a valid connector; `errors` lists each problem by JSON pointer'),
  413: errorResponse('The body is larger than 64 KiB'),
  415: errorResponse('The body is not JSON'),
} as const;

export const connectorNotFound = { 404: errorResponse('No such connector') } as const;
