import { call, describeResponse, judge } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';

/** When GitHub's rate limit resets (`x-ratelimit-reset`, epoch seconds), as ` after 12:34 UTC`. */
export function resetTime(reset: string | undefined): string {
  const seconds = Number(reset);
  if (!reset || !Number.isSafeInteger(seconds) || seconds <= 0) return '';
  const at = new Date(seconds * 1000);
  // Past year 275760 a Date is invalid and toISOString throws: say nothing rather than fail the check.
  return Number.isNaN(at.getTime()) ? '' : ` after ${at.toISOString().slice(11, 16)} UTC`;
}

export const github = defineConnectorType({
  id: 'github',
  displayName: 'GitHub',
  description: 'Opens and updates GitHub issues.',
  endpoint: 'https://api.github.com',
  params: {
    apiKey: param.secret('GitHub personal access token'),
  },
  check: {
    kind: 'online',
    description: 'GET https://api.github.com/user with the token as Bearer',
    async run(params, context) {
      const result = await call(context, {
        method: 'GET',
        url: `${context.endpoint}/user`,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${params.apiKey}`,
        },
      });
      if ('outcome' in result) return result.outcome;
      const { response } = result;
      const { status, headers } = response;
      // GitHub answers 403 (or 429) when a rate limit is exhausted: the token was not judged at all.
      const limited =
        (status === 403 || status === 429) &&
        (headers['x-ratelimit-remaining'] === '0' || headers['retry-after'] !== undefined);
      if (limited) {
        return {
          status: 'failed',
          message: `GitHub is rate limiting these requests (${describeResponse(response)}), so the token could not be checked; try again${resetTime(headers['x-ratelimit-reset'])}`,
          httpStatus: status,
        };
      }
      return judge(response, 'GitHub');
    },
  },
});
