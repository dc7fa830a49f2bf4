import { Type } from '@sinclair/typebox';
import { basicAuth, call, describeResponse, getAndJudge, joinUrl } from '../../checks/http.js';
import { defineConnectorType, type ParamsOf, param } from '../../define.js';
import type { DeliveryRun, Ticket } from '../../delivery.js';
import { callJson, type Step, textField, unexpectedAnswer } from '../../tickets/http.js';
import { ticketSend } from '../../tickets/lifecycle.js';
import { cut, type EventText, htmlBody } from '../../tickets/text.js';

const options = Type.Object(
  {
    status: Type.Optional(
      Type.Union([Type.Literal('firstLine'), Type.Literal('secondLine'), Type.Literal('partial')], {
        description: 'line of new incidents (default firstLine)',
      }),
    ),
    callerEmail: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 255,
        description:
          'email of a registered TOPdesk person as the caller; by default an unregistered caller named Plugboard',
      }),
    ),
  },
  { additionalProperties: false },
);

const params = {
  url: param.url('Base URL of the TOPdesk instance, e.g. https://example.topdesk.net'),
  username: param.text('TOPdesk operator login name'),
  password: param.secret('Application password of that operator'),
};

/** TOPdesk keeps at most this many characters of an action (memo field) and of a request. */
const MAX_MEMO = 60_000;

/** Adds an action (invisible for the caller) and more fields: `PATCH /tas/api/incidents/id/{id}`. */
function patch(
  call: { input: { params: ParamsOf<typeof params> }; run: DeliveryRun; text: EventText },
  ticket: Ticket,
  headline: string,
  fields: Record<string, unknown> = {},
): Promise<Step<unknown>> {
  const { params } = call.input;
  return callJson(call.run, 'TOPdesk', {
    method: 'PATCH',
    url: joinUrl(params.url, `/tas/api/incidents/id/${encodeURIComponent(ticket.id)}`),
    headers: { authorization: basicAuth(params.username, params.password) },
    json: { ...fields, action: cut(htmlBody(call.text, headline), MAX_MEMO), actionInvisibleForCaller: true },
  });
}

export const topdesk = defineConnectorType({
  id: 'topdesk',
  displayName: 'TOPdesk',
  description: 'Opens and updates TOPdesk incidents.',
  params,
  check: {
    kind: 'online',
    description: 'GET {url}/tas/api/version, then GET {url}/tas/api/incidents?page_size=1 with basic auth',
    async run(params, context) {
      const base = params.url;
      const version = await call(context, {
        method: 'GET',
        url: joinUrl(base, '/tas/api/version'),
        headers: { accept: 'application/json' },
      });
      if ('outcome' in version) return version.outcome;
      if (version.response.status === 404) {
        return {
          status: 'failed',
          message: `no TOPdesk API at this URL (${describeResponse(version.response)}); check the base URL`,
          httpStatus: 404,
        };
      }
      return getAndJudge(context, 'TOPdesk', joinUrl(base, '/tas/api/incidents?page_size=1'), {
        authorization: basicAuth(params.username, params.password),
      });
    },
  },
  deliver: {
    kind: 'ticket',
    description:
      'ALERT: POST {url}/tas/api/incidents; ACCEPT, COMMENT: PATCH {url}/tas/api/incidents/id/{id} adding an action; RESOLVE: the same PATCH setting completed and closed',
    options,
    send: ticketSend({
      service: 'TOPdesk',
      noun: 'incident',
      async open({ input: { params, options }, run, text }) {
        const answer = await callJson(run, 'TOPdesk', {
          method: 'POST',
          url: joinUrl(params.url, '/tas/api/incidents'),
          headers: { authorization: basicAuth(params.username, params.password) },
          json: {
            ...(options.callerEmail
              ? { callerLookup: { email: options.callerEmail } }
              : { caller: { dynamicName: 'Plugboard' } }),
            status: options.status ?? 'firstLine',
            briefDescription: cut(text.title, 80),
            request: cut(htmlBody(text), MAX_MEMO),
          },
        });
        if ('outcome' in answer) return answer;
        const id = textField(answer.ok.body, 'id');
        if (id === undefined)
          return { outcome: unexpectedAnswer('TOPdesk', answer.ok, 'the id of the new incident') };
        return {
          ok: {
            id,
            url: joinUrl(params.url, `/tas/secure/incident?unid=${encodeURIComponent(id)}`),
            open: true,
          },
        };
      },
      comment: (call, ticket, headline) => patch(call, ticket, headline),
      async resolve(call, ticket, headline) {
        const closed = await patch(call, ticket, headline, { completed: true, closed: true });
        return 'outcome' in closed ? closed : { ok: { closed: true } };
      },
    }),
  },
});
