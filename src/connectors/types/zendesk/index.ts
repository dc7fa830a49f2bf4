import { Type } from '@sinclair/typebox';
import { isRecord } from '../../../is-record.js';
import { basicAuth, call, joinUrl, judge } from '../../checks/http.js';
import { defineConnectorType, type ParamsOf, param } from '../../define.js';
import type { Ticket } from '../../delivery.js';
import { callJson, type Step, textField, unexpectedAnswer } from '../../tickets/http.js';
import { ticketSend } from '../../tickets/lifecycle.js';
import { cut, type EventText, plainBody } from '../../tickets/text.js';

const options = Type.Object(
  {
    priority: Type.Optional(
      Type.Union(
        ['urgent', 'high', 'normal', 'low'].map((p) => Type.Literal(p)),
        { description: 'priority of new tickets; by default high for HIGH events, low for LOW ones' },
      ),
    ),
  },
  { additionalProperties: false },
);

const params = {
  url: param.url('Base URL of the Zendesk account, e.g. https://example.zendesk.com'),
  email: param.text('Email address of the Zendesk agent the API token belongs to'),
  apiKey: param.secret('Zendesk API token'),
};

/** Zendesk's basic auth with an API token: `{email}/token:{token}`. */
function auth(p: ParamsOf<typeof params>): string {
  return basicAuth(`${p.email}/token`, p.apiKey);
}

/** Updates a ticket with a private comment (and more fields): `PUT /api/v2/tickets/{id}.json`. */
async function update(
  call: { input: { params: ParamsOf<typeof params> }; run: Parameters<typeof callJson>[0]; text: EventText },
  ticket: Ticket,
  headline: string,
  fields: Record<string, unknown> = {},
): Promise<Step<unknown>> {
  return callJson(call.run, 'Zendesk', {
    method: 'PUT',
    url: joinUrl(call.input.params.url, `/api/v2/tickets/${encodeURIComponent(ticket.id)}.json`),
    headers: { authorization: auth(call.input.params) },
    json: {
      ticket: { ...fields, comment: { body: cut(plainBody(call.text, headline), 60_000), public: false } },
    },
  });
}

export const zendesk = defineConnectorType({
  id: 'zendesk',
  displayName: 'Zendesk',
  description: 'Opens and updates Zendesk tickets.',
  params,
  check: {
    kind: 'online',
    description:
      'GET {url}/api/v2/users/me.json with basic auth (email/token, API token); an anonymous answer means refused',
    async run(params, context) {
      const result = await call(context, {
        method: 'GET',
        url: joinUrl(params.url, '/api/v2/users/me.json'),
        headers: {
          accept: 'application/json',
          authorization: basicAuth(`${params.email}/token`, params.apiKey),
        },
      });
      if ('outcome' in result) return result.outcome;
      const outcome = judge(result.response, 'Zendesk');
      // Zendesk answers 200 with an anonymous user (id null) when the credentials are not accepted.
      if (outcome.status === 'ok' && !/"id"\s*:\s*\d/.test(result.response.body)) {
        return {
          status: 'failed',
          message: 'Zendesk answered as an anonymous user: the email or API token was not accepted',
          httpStatus: result.response.status,
        };
      }
      return outcome;
    },
  },
  deliver: {
    kind: 'ticket',
    description:
      'ALERT: POST {url}/api/v2/tickets.json; ACCEPT, COMMENT: PUT {url}/api/v2/tickets/{id}.json with a private comment; RESOLVE: the same PUT setting status solved',
    options,
    send: ticketSend({
      service: 'Zendesk',
      noun: 'ticket',
      async open({ input: { params, options, event }, run, text }) {
        const answer = await callJson(run, 'Zendesk', {
          method: 'POST',
          url: joinUrl(params.url, '/api/v2/tickets.json'),
          headers: { authorization: auth(params) },
          json: {
            ticket: {
              subject: cut(text.title, 255),
              comment: { body: cut(plainBody(text), 60_000), public: false },
              priority: options.priority ?? (event.priority === 'LOW' ? 'low' : 'high'),
            },
          },
        });
        if ('outcome' in answer) return answer;
        const created = isRecord(answer.ok.body) ? answer.ok.body.ticket : undefined;
        const id = textField(created, 'id');
        if (id === undefined)
          return { outcome: unexpectedAnswer('Zendesk', answer.ok, 'the id of the new ticket') };
        return { ok: { id, url: joinUrl(params.url, `/agent/tickets/${id}`), open: true } };
      },
      comment: (call, ticket, headline) => update(call, ticket, headline),
      async resolve(call, ticket, headline) {
        const solved = await update(call, ticket, headline, { status: 'solved' });
        return 'outcome' in solved ? solved : { ok: { closed: true } };
      },
    }),
  },
});
