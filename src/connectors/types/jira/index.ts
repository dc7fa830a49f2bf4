import { Type } from '@sinclair/typebox';
import { isRecord } from '../../../is-record.js';
import { basicAuth, call, joinUrl, judge } from '../../checks/http.js';
import { quoteShort } from '../../checks/said.js';
import { defineConnectorType, param } from '../../define.js';
import { callJson, textField, unexpectedAnswer } from '../../tickets/http.js';
import { ticketSend } from '../../tickets/lifecycle.js';
import { adfBody, cut } from '../../tickets/text.js';

const options = Type.Object(
  {
    project: Type.String({ minLength: 1, maxLength: 255, description: 'key of the Jira project, e.g. OPS' }),
    issueType: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          'issue type of new issues: Bug, Epic, Subtask, Story, Task (the default) or another of the project',
      }),
    ),
    resolveTransition: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          'the transition (or its target status) RESOLVE takes; by default the first one into a status of the Done category',
      }),
    ),
  },
  { additionalProperties: false },
);

interface Transition {
  readonly id: string;
  readonly name: string;
  readonly to: string;
  readonly done: boolean;
}

/** The transitions Jira offers for an issue (`GET …/transitions`). */
function transitionsOf(body: unknown): Transition[] | undefined {
  if (!isRecord(body) || !Array.isArray(body.transitions)) return undefined;
  return body.transitions.flatMap((item: unknown) => {
    const id = textField(item, 'id');
    if (!isRecord(item) || id === undefined) return [];
    const to = isRecord(item.to) ? item.to : {};
    const category = isRecord(to.statusCategory) ? to.statusCategory.key : undefined;
    return [
      { id, name: textField(item, 'name') ?? '', to: textField(to, 'name') ?? '', done: category === 'done' },
    ];
  });
}

export const jira = defineConnectorType({
  id: 'jira',
  displayName: 'Jira',
  description: 'Opens and updates Jira issues (Jira Cloud or Data Center).',
  params: {
    url: param.url('Base URL of the Jira site, e.g. https://example.atlassian.net'),
    email: param.text('Email address of the Jira user the API token belongs to'),
    password: param.secret('Password, usually an Atlassian API token'),
  },
  check: {
    kind: 'online',
    description:
      'GET {url}/rest/api/3/myself with basic auth (email and API token); a locked account (CAPTCHA) is reported as such',
    async run(params, context) {
      const result = await call(context, {
        method: 'GET',
        url: joinUrl(params.url, '/rest/api/3/myself'),
        headers: {
          accept: 'application/json',
          authorization: basicAuth(params.email, params.password),
        },
      });
      if ('outcome' in result) return result.outcome;
      const reason = result.response.headers['x-seraph-loginreason'];
      const outcome = judge(result.response, 'Jira');
      if (outcome.status === 'failed' && reason && /CAPTCHA|DENIED/i.test(reason)) {
        return {
          ...outcome,
          message: `${outcome.message}; Jira says the login is ${quoteShort(reason, context.redactor)} (the account may be locked: sign in once in a browser)`,
        };
      }
      return outcome;
    },
  },
  deliver: {
    kind: 'ticket',
    description:
      'ALERT: POST {url}/rest/api/3/issue; ACCEPT, COMMENT: POST {url}/rest/api/3/issue/{key}/comment; RESOLVE: a comment, then GET and POST {url}/rest/api/3/issue/{key}/transitions (into the Done category)',
    options,
    send: ticketSend({
      service: 'Jira',
      noun: 'issue',
      async open({ input, run, text }) {
        const { params, options } = input;
        const answer = await callJson(run, 'Jira', {
          method: 'POST',
          url: joinUrl(params.url, '/rest/api/3/issue'),
          headers: { authorization: basicAuth(params.email, params.password) },
          json: {
            fields: {
              project: { key: options.project },
              issuetype: { name: options.issueType ?? 'Task' },
              summary: cut(text.title, 255),
              description: adfBody(text),
            },
          },
        });
        if ('outcome' in answer) return answer;
        const key = textField(answer.ok.body, 'key');
        if (key === undefined)
          return { outcome: unexpectedAnswer('Jira', answer.ok, 'the key of the new issue') };
        return {
          ok: { id: key, url: joinUrl(params.url, `/browse/${encodeURIComponent(key)}`), open: true },
        };
      },
      comment({ input: { params }, run, text }, ticket, headline) {
        return callJson(run, 'Jira', {
          method: 'POST',
          url: joinUrl(params.url, `/rest/api/3/issue/${encodeURIComponent(ticket.id)}/comment`),
          headers: { authorization: basicAuth(params.email, params.password) },
          json: { body: adfBody(text, headline) },
        });
      },
      async resolve(call, ticket, headline) {
        const { params, options } = call.input;
        const issue = joinUrl(params.url, `/rest/api/3/issue/${encodeURIComponent(ticket.id)}`);
        const authorization = basicAuth(params.email, params.password);
        const offered = await callJson(call.run, 'Jira', {
          method: 'GET',
          url: `${issue}/transitions`,
          headers: { authorization },
        });
        if ('outcome' in offered) return offered;
        const transitions = transitionsOf(offered.ok.body);
        if (transitions === undefined)
          return { outcome: unexpectedAnswer('Jira', offered.ok, 'the transitions of the issue') };
        const wanted = options.resolveTransition?.toLowerCase();
        const transition = wanted
          ? transitions.find((t) => t.name.toLowerCase() === wanted || t.to.toLowerCase() === wanted)
          : transitions.find((t) => t.done);
        if (wanted && !transition) {
          const names = transitions.map((t) => t.name).join(', ') || 'none';
          return {
            outcome: {
              result: 'failed',
              message: `Jira offers no transition named ${quoteShort(options.resolveTransition ?? '', call.run.redactor)} for ${ticket.id} (it offers: ${quoteShort(names, call.run.redactor, 200)}); fix the option resolveTransition`,
            },
          };
        }
        const commented = await this.comment(call, ticket, headline);
        if ('outcome' in commented) return commented;
        if (!transition)
          return {
            ok: {
              closed: false,
              why: 'Jira offers no transition into a status of the Done category for it, so it stays open (name one with the option resolveTransition)',
            },
          };
        const moved = await callJson(call.run, 'Jira', {
          method: 'POST',
          url: `${issue}/transitions`,
          headers: { authorization },
          json: { transition: { id: transition.id } },
        });
        return 'outcome' in moved ? moved : { ok: { closed: true } };
      },
    }),
  },
});
