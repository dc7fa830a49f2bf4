import { Type } from '@sinclair/typebox';
import { call, describeResponse, judge, type TargetResponse } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';
import type { DeliveryOutcome, Ticket } from '../../delivery.js';
import { callJson, textField, unexpectedAnswer } from '../../tickets/http.js';
import { ticketSend } from '../../tickets/lifecycle.js';
import { cut, markdownBody } from '../../tickets/text.js';

/** When GitHub's rate limit resets (`x-ratelimit-reset`, epoch seconds), as ` after 12:34 UTC`. */
export function resetTime(reset: string | undefined): string {
  const seconds = Number(reset);
  if (!reset || !Number.isSafeInteger(seconds) || seconds <= 0) return '';
  const at = new Date(seconds * 1000);
  // Past year 275760 a Date is invalid and toISOString throws: say nothing rather than fail the check.
  return Number.isNaN(at.getTime()) ? '' : ` after ${at.toISOString().slice(11, 16)} UTC`;
}

/** GitHub's names of owners and repositories: letters, digits, `-`, `_` and `.`. */
const NAME = '^[A-Za-z0-9_.-]+$';

const options = Type.Object(
  {
    owner: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: NAME,
      description: 'user or organization, e.g. octo-org',
    }),
    repository: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: NAME,
      description: 'repository name, e.g. ops',
    }),
    labels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 50 }), {
        maxItems: 20,
        description: 'labels of new issues',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The rate limit GitHub answers with a 403 or 429: retried when it resets (or after Retry-After). */
function rateLimited(response: TargetResponse): DeliveryOutcome | undefined {
  const { status, headers } = response;
  if (status !== 403 && status !== 429) return undefined;
  const retryAfter = Number(headers['retry-after']);
  const reset = Number(headers['x-ratelimit-reset']);
  let wait: number | undefined;
  if (headers['retry-after'] !== undefined && Number.isSafeInteger(retryAfter) && retryAfter >= 0)
    wait = retryAfter * 1000;
  else if (headers['x-ratelimit-remaining'] === '0' && Number.isSafeInteger(reset) && reset > 0)
    wait = Math.max(0, reset * 1000 - Date.now());
  else if (status === 403) return undefined;
  return {
    result: 'retry',
    message: `GitHub is rate limiting these requests (${describeResponse(response)}); retried${resetTime(headers['x-ratelimit-reset'])}`,
    httpStatus: status,
    ...(wait === undefined ? {} : { retryAfterMs: wait }),
  };
}

/** An issue as its ticket id says: `owner/repository#number`. */
function issueOf(ticket: Ticket): { repo: string; number: string } | undefined {
  const match = /^([^/#]+\/[^/#]+)#(\d+)$/.exec(ticket.id);
  return match?.[1] && match[2] ? { repo: match[1], number: match[2] } : undefined;
}

const HEADERS = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' } as const;

function notAnIssue(ticket: Ticket): { outcome: DeliveryOutcome } {
  return {
    outcome: {
      result: 'failed',
      message: `the kept ticket ${ticket.id} is not a GitHub issue (owner/repository#number)`,
    },
  };
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
  deliver: {
    kind: 'ticket',
    description:
      'ALERT: POST https://api.github.com/repos/{owner}/{repository}/issues; ACCEPT, COMMENT: POST …/issues/{number}/comments; RESOLVE: a comment, then PATCH …/issues/{number} to state closed',
    options,
    send: ticketSend({
      service: 'GitHub',
      noun: 'issue',
      async open({ input: { params, options }, run, text }) {
        const repo = `${options.owner}/${options.repository}`;
        const answer = await callJson(
          run,
          'GitHub',
          {
            method: 'POST',
            url: `${run.endpoint}/repos/${repo}/issues`,
            headers: { ...HEADERS, authorization: `Bearer ${params.apiKey}` },
            json: {
              title: cut(text.title, 256),
              body: cut(markdownBody(text), 65_000),
              ...(options.labels ? { labels: options.labels } : {}),
            },
          },
          rateLimited,
        );
        if ('outcome' in answer) return answer;
        const number = textField(answer.ok.body, 'number');
        if (number === undefined)
          return { outcome: unexpectedAnswer('GitHub', answer.ok, 'the number of the new issue') };
        const url = textField(answer.ok.body, 'html_url');
        return { ok: { id: `${repo}#${number}`, ...(url ? { url } : {}), open: true } };
      },
      comment({ input: { params }, run, text }, ticket, headline) {
        const issue = issueOf(ticket);
        if (!issue) return Promise.resolve(notAnIssue(ticket));
        return callJson(
          run,
          'GitHub',
          {
            method: 'POST',
            url: `${run.endpoint}/repos/${issue.repo}/issues/${issue.number}/comments`,
            headers: { ...HEADERS, authorization: `Bearer ${params.apiKey}` },
            json: { body: cut(markdownBody(text, headline), 65_000) },
          },
          rateLimited,
        );
      },
      async resolve(call, ticket, headline) {
        const issue = issueOf(ticket);
        if (!issue) return notAnIssue(ticket);
        const commented = await this.comment(call, ticket, headline);
        if ('outcome' in commented) return commented;
        const closed = await callJson(
          call.run,
          'GitHub',
          {
            method: 'PATCH',
            url: `${call.run.endpoint}/repos/${issue.repo}/issues/${issue.number}`,
            headers: { ...HEADERS, authorization: `Bearer ${call.input.params.apiKey}` },
            json: { state: 'closed', state_reason: 'completed' },
          },
          rateLimited,
        );
        return 'outcome' in closed ? closed : { ok: { closed: true } };
      },
    }),
  },
});
