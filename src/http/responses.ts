import { ErrorSchema } from '../connectors/schemas.js';
import { jsonResponse, type ResponseDoc } from '../openapi/route-schema.js';

/**
 * The error answers that routes share, for their schemas (route-schema.ts): what the plumbing in
 * front of every route (auth, rate limits, the overload guard, the JSON body parser) can answer.
 */

export function errorResponse(description: string): ResponseDoc {
  return jsonResponse(description, ErrorSchema);
}

/** What any route that needs an API key can answer instead of its own. */
export const keyErrors = {
  401: errorResponse(
    'Missing, malformed, unknown, revoked or expired API key (with WWW-Authenticate: Bearer)',
  ),
  429: errorResponse(
    'Over the rate limit, when PLUGBOARD_RATE_LIMIT is set (with Retry-After and RateLimit headers)',
  ),
  503: errorResponse(
    'The database is unavailable or the server is overloaded or shutting down (with Retry-After)',
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
