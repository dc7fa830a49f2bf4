import { Type } from '@sinclair/typebox';
import { isRecord } from '../../../is-record.js';
import { call, describeResponse, joinUrl, judge, type TargetResponse } from '../../checks/http.js';
import { parseJson, quoteShort } from '../../checks/said.js';
import type { CheckOutcome } from '../../checks/types.js';
import { defineConnectorType, type ParamsOf, param } from '../../define.js';
import type { DeliveryOutcome } from '../../delivery.js';
import { callJson, textField, unexpectedAnswer } from '../../tickets/http.js';
import { ticketSend } from '../../tickets/lifecycle.js';
import { cut, plainBody } from '../../tickets/text.js';

/** Autotask's REST errors: `{"errors": ["…"]}`. */
function isAutotaskError(body: unknown): boolean {
  return isRecord(body) && Array.isArray(body.errors);
}

/** What a zone lookup answered, when it was not a zone. */
function notAZone(response: TargetResponse, body: unknown): CheckOutcome {
  const httpStatus = response.status;
  if (isAutotaskError(body)) {
    return {
      status: 'failed',
      message: `Autotask does not know this user (${describeResponse(response)})`,
      httpStatus,
    };
  }
  if (httpStatus === 404) {
    return {
      status: 'failed',
      message: `no Autotask REST API at this URL (${describeResponse(response)}); the URL looks wrong: use the zone URL, e.g. https://webservices5.autotask.net`,
      httpStatus,
    };
  }
  if (httpStatus === 200) {
    return {
      status: 'failed',
      message: 'Autotask answered the zone lookup without a zone URL; check the URL',
      httpStatus,
    };
  }
  return { status: 'failed', message: `Autotask answered ${describeResponse(response)}`, httpStatus };
}

/** An Autotask id or picklist value, as ilert's alert actions send it: digits in a string. */
const id = (description: string) => Type.String({ pattern: '^[0-9]{1,10}$', description });

const options = Type.Object(
  {
    queueId: id('queue of new tickets'),
    companyId: Type.Optional(id('company of new tickets (default 0, your own company)')),
    status: Type.Optional(id('status of new tickets (default 1, New)')),
    ticketType: Type.Optional(id('ticket type of new tickets (picklist value)')),
    ticketCategory: Type.Optional(id('ticket category of new tickets')),
    noteType: Type.Optional(id('note type of the notes ACCEPT, COMMENT and RESOLVE add (default 1)')),
    notePublish: Type.Optional(id('who sees those notes (default 1, all Autotask users)')),
    completeStatus: Type.Optional(id('status RESOLVE sets (default 5, Complete)')),
  },
  { additionalProperties: false },
);

const params = {
  url: param.url('Autotask API zone URL, e.g. https://webservices5.autotask.net'),
  email: param.text('User name of the Autotask API user'),
  password: param.secret('Secret of the Autotask API user'),
  integrationCode: param.secret(
    'API integration code (tracking identifier) of that API user; needed to deliver, not to store or check',
    { required: false },
  ),
};

const NEEDS_CODE =
  'an Autotask connector needs its API integration code to deliver: add the param integrationCode (the tracking identifier of the API user, under Admin > Resources (Users) > the API user > Security); ilert supplies its own, a self-hosted service cannot';

function headersOf(p: ParamsOf<typeof params>, code: string): Record<string, string> {
  return { apiintegrationcode: code, username: p.email, secret: p.password };
}

/**
 * Autotask answers a request it refuses (an unknown queue, a missing required field) with a 500 and
 * `{"errors": ["…"]}`: that is permanent, not an outage to retry.
 */
function refused(response: TargetResponse): DeliveryOutcome | undefined {
  if (response.status !== 500 || !isAutotaskError(parseJson(response.body)?.value)) return undefined;
  return {
    result: 'failed',
    message: `Autotask refused the request (${describeResponse(response)}); check the delivery options`,
    httpStatus: 500,
  };
}

const api = (p: ParamsOf<typeof params>, path: string) => joinUrl(p.url, `/atservicesrest/v1.0${path}`);

export const autotask = defineConnectorType({
  id: 'autotask',
  displayName: 'Autotask',
  description: 'Opens and updates Autotask tickets.',
  params,
  check: {
    kind: 'online',
    description:
      'GET {url}/atservicesrest/v1.0/zoneInformation?user=… (the zone lookup for the user); a user in another zone than the URL fails, naming the zone URL; with an integrationCode, GET {url}/atservicesrest/v1.0/ThresholdInformation then checks the secret (without one the secret cannot be checked)',
    async run(params, context) {
      const user = params.email;
      const base = params.url;
      const result = await call(context, {
        method: 'GET',
        url: joinUrl(base, `/atservicesrest/v1.0/zoneInformation?user=${encodeURIComponent(user)}`),
        headers: { accept: 'application/json' },
      });
      if ('outcome' in result) return result.outcome;
      const { response } = result;
      const body = parseJson(response.body, context.answers)?.value;
      const zone = isRecord(body) && typeof body.url === 'string' ? body.url : undefined;
      if (response.status !== 200 || zone === undefined || !URL.canParse(zone)) {
        return notAZone(response, body);
      }
      const zoneUrl = new URL(zone);
      // The zone URL is the target's words too: quoted like the rest of them.
      const origin = quoteShort(zoneUrl.origin, context.redactor, 120);
      const zoneName =
        isRecord(body) && typeof body.zoneName === 'string'
          ? ` (${quoteShort(body.zoneName, context.redactor)})`
          : '';
      if (zoneUrl.host.toLowerCase() !== new URL(base).host.toLowerCase()) {
        return {
          status: 'failed',
          message: `Autotask knows the user, but in another zone${zoneName}: set the URL to ${origin}, or tickets would be sent to the wrong zone`,
          httpStatus: 200,
        };
      }
      const code = params.integrationCode;
      if (code) {
        const authenticated = await call(context, {
          method: 'GET',
          url: api(params, '/ThresholdInformation'),
          headers: { accept: 'application/json', ...headersOf(params, code) },
        });
        return 'outcome' in authenticated ? authenticated.outcome : judge(authenticated.response, 'Autotask');
      }
      return {
        status: 'ok',
        message: `Autotask knows the user, in zone ${origin}${zoneName}; the secret itself can only be checked with an API integration code (add the param integrationCode)`,
        httpStatus: 200,
      };
    },
  },
  deliver: {
    kind: 'ticket',
    description:
      'ALERT: GET {url}/atservicesrest/v1.0/zoneInformation?user=… (the zone, and its web URL for the ticket link), then POST {url}/atservicesrest/v1.0/Tickets; ACCEPT, COMMENT: POST …/Tickets/{id}/Notes; RESOLVE: a note, then PATCH …/Tickets setting the complete status',
    options,
    missing: (p) => (p.integrationCode ? undefined : NEEDS_CODE),
    send: ticketSend({
      service: 'Autotask',
      noun: 'ticket',
      async open({ input: { params, options, event }, run, text }) {
        const code = params.integrationCode;
        if (!code) return { outcome: { result: 'failed', message: NEEDS_CODE } };
        const zone = await callJson(run, 'Autotask', {
          method: 'GET',
          url: api(params, `/zoneInformation?user=${encodeURIComponent(params.email)}`),
          headers: {},
        });
        if ('outcome' in zone) return zone;
        const zoneUrl = textField(zone.ok.body, 'url');
        if (zoneUrl === undefined || !URL.canParse(zoneUrl))
          return { outcome: unexpectedAnswer('Autotask', zone.ok, 'the zone of the user') };
        if (new URL(zoneUrl).host.toLowerCase() !== new URL(params.url).host.toLowerCase()) {
          return {
            outcome: {
              result: 'failed',
              message: `the Autotask user lives in another zone: set the URL to ${quoteShort(new URL(zoneUrl).origin, run.redactor, 120)}`,
            },
          };
        }
        const answer = await callJson(
          run,
          'Autotask',
          {
            method: 'POST',
            url: api(params, '/Tickets'),
            headers: headersOf(params, code),
            json: {
              companyID: Number(options.companyId ?? '0'),
              queueID: Number(options.queueId),
              title: cut(text.title, 255),
              description: cut(plainBody(text), 8000),
              status: Number(options.status ?? '1'),
              priority: event.priority === 'LOW' ? 3 : 1,
              ...(options.ticketType ? { ticketType: Number(options.ticketType) } : {}),
              ...(options.ticketCategory ? { ticketCategory: Number(options.ticketCategory) } : {}),
            },
          },
          refused,
        );
        if ('outcome' in answer) return answer;
        const ticket = textField(answer.ok.body, 'itemId');
        if (ticket === undefined)
          return { outcome: unexpectedAnswer('Autotask', answer.ok, 'the itemId of the new ticket') };
        const web = textField(zone.ok.body, 'webUrl');
        const url =
          web && URL.canParse(web)
            ? `${web.replace(/\/*$/, '/')}Mvc/ServiceDesk/TicketDetail.mvc?ticketId=${ticket}`
            : undefined;
        return { ok: { id: ticket, ...(url ? { url } : {}), open: true } };
      },
      comment({ input: { params, options }, run, text }, ticket, headline) {
        const code = params.integrationCode;
        if (!code) return Promise.resolve({ outcome: { result: 'failed', message: NEEDS_CODE } });
        return callJson(
          run,
          'Autotask',
          {
            method: 'POST',
            url: api(params, `/Tickets/${encodeURIComponent(ticket.id)}/Notes`),
            headers: headersOf(params, code),
            json: {
              ticketID: Number(ticket.id),
              title: cut(headline, 250),
              description: cut(plainBody(text, headline), 32_000),
              noteType: Number(options.noteType ?? '1'),
              publish: Number(options.notePublish ?? '1'),
            },
          },
          refused,
        );
      },
      async resolve(call, ticket, headline) {
        const { params, options } = call.input;
        const code = params.integrationCode;
        if (!code) return { outcome: { result: 'failed', message: NEEDS_CODE } };
        const noted = await this.comment(call, ticket, headline);
        if ('outcome' in noted) return noted;
        const completed = await callJson(
          call.run,
          'Autotask',
          {
            method: 'PATCH',
            url: api(params, '/Tickets'),
            headers: headersOf(params, code),
            json: { id: Number(ticket.id), status: Number(options.completeStatus ?? '5') },
          },
          refused,
        );
        return 'outcome' in completed ? completed : { ok: { closed: true } };
      },
    }),
  },
});
