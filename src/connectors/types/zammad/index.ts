import { Type } from '@sinclair/typebox';
import { getAndJudge, joinUrl } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';
import { callJson, textField, unexpectedAnswer } from '../../tickets/http.js';
import { ticketSend } from '../../tickets/lifecycle.js';
import { cut, type EventText, plainBody } from '../../tickets/text.js';

const options = Type.Object(
  {
    group: Type.String({ minLength: 1, maxLength: 160, description: 'group of new tickets, e.g. Users' }),
    customer: Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'email or login of the existing Zammad user new tickets are for',
    }),
  },
  { additionalProperties: false },
);

/** An internal note: Zammad's article of type `note`. */
function note(text: EventText, subject: string, headline?: string) {
  return {
    subject: cut(subject, 250),
    body: cut(plainBody(text, headline), 60_000),
    type: 'note',
    internal: true,
    content_type: 'text/plain',
  };
}

export const zammad = defineConnectorType({
  id: 'zammad',
  displayName: 'Zammad',
  description: 'Opens and updates Zammad tickets.',
  params: {
    url: param.url('Base URL of the Zammad instance'),
    apiKey: param.secret('Zammad access token'),
  },
  check: {
    kind: 'online',
    description: 'GET {url}/api/v1/users/me with Authorization: Token token=…',
    run: (params, context) =>
      getAndJudge(context, 'Zammad', joinUrl(params.url, '/api/v1/users/me'), {
        authorization: `Token token=${params.apiKey}`,
      }),
  },
  deliver: {
    kind: 'ticket',
    description:
      'ALERT: POST {url}/api/v1/tickets; ACCEPT, COMMENT: POST {url}/api/v1/ticket_articles (an internal note); RESOLVE: PUT {url}/api/v1/tickets/{id} with state closed and a note',
    options,
    send: ticketSend({
      service: 'Zammad',
      noun: 'ticket',
      async open({ input: { params, options }, run, text }) {
        const answer = await callJson(run, 'Zammad', {
          method: 'POST',
          url: joinUrl(params.url, '/api/v1/tickets'),
          headers: { authorization: `Token token=${params.apiKey}` },
          json: {
            title: cut(text.title, 250),
            group: options.group,
            customer: options.customer,
            article: note(text, text.title),
          },
        });
        if ('outcome' in answer) return answer;
        const id = textField(answer.ok.body, 'id');
        if (id === undefined)
          return { outcome: unexpectedAnswer('Zammad', answer.ok, 'the id of the new ticket') };
        return { ok: { id, url: joinUrl(params.url, `/#ticket/zoom/${id}`), open: true } };
      },
      comment({ input: { params }, run, text }, ticket, headline) {
        return callJson(run, 'Zammad', {
          method: 'POST',
          url: joinUrl(params.url, '/api/v1/ticket_articles'),
          headers: { authorization: `Token token=${params.apiKey}` },
          json: { ticket_id: Number(ticket.id), ...note(text, headline, headline) },
        });
      },
      async resolve({ input: { params }, run, text }, ticket, headline) {
        const closed = await callJson(run, 'Zammad', {
          method: 'PUT',
          url: joinUrl(params.url, `/api/v1/tickets/${encodeURIComponent(ticket.id)}`),
          headers: { authorization: `Token token=${params.apiKey}` },
          json: { state: 'closed', article: note(text, headline, headline) },
        });
        return 'outcome' in closed ? closed : { ok: { closed: true } };
      },
    }),
  },
});
