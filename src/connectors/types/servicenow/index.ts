import { Type } from '@sinclair/typebox';
import { isRecord } from '../../../is-record.js';
import { basicAuth, getAndJudge, joinUrl } from '../../checks/http.js';
import { defineConnectorType, param } from '../../define.js';
import { callJson, textField, unexpectedAnswer } from '../../tickets/http.js';
import { ticketSend } from '../../tickets/lifecycle.js';
import { cut, plainBody } from '../../tickets/text.js';

/** ServiceNow's 1 (high) to 3 (low), as ilert's alert actions send it: a string. */
const level = (description: string) =>
  Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('2'), Type.Literal('3')], { description }));

const options = Type.Object(
  {
    callerId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: 'caller of new incidents: a sys_id or user name',
      }),
    ),
    impact: level('impact of new incidents, "1" (high) to "3" (low); ServiceNow’s default when absent'),
    urgency: level('urgency of new incidents, "1" to "3"; by default "1" for HIGH events, "3" for LOW ones'),
    assignmentGroup: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: 'assignment group of new incidents: a sys_id or name',
      }),
    ),
    closeCode: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description:
          'resolution code RESOLVE sets (default "Solution provided"; older instances use e.g. "Solved (Permanently)")',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The `result` of a Table API answer. */
function resultOf(body: unknown): unknown {
  return isRecord(body) ? body.result : undefined;
}

export const servicenow = defineConnectorType({
  id: 'servicenow',
  displayName: 'ServiceNow',
  description: 'Opens and updates ServiceNow incidents.',
  params: {
    url: param.url('Base URL of the ServiceNow instance, e.g. https://example.service-now.com'),
    username: param.text('ServiceNow user name'),
    password: param.secret('Password of that user'),
  },
  check: {
    kind: 'online',
    description: 'GET {url}/api/now/table/sys_user?sysparm_limit=1 with basic auth',
    run: (params, context) =>
      getAndJudge(context, 'ServiceNow', joinUrl(params.url, '/api/now/table/sys_user?sysparm_limit=1'), {
        authorization: basicAuth(params.username, params.password),
      }),
  },
  deliver: {
    kind: 'ticket',
    description:
      'ALERT: POST {url}/api/now/table/incident; ACCEPT, COMMENT: PATCH {url}/api/now/table/incident/{sys_id} with work notes; RESOLVE: the same PATCH setting state 6 (Resolved), close code and close notes',
    options,
    send: ticketSend({
      service: 'ServiceNow',
      noun: 'incident',
      async open({ input: { params, options, event }, run, text }) {
        const answer = await callJson(run, 'ServiceNow', {
          method: 'POST',
          url: joinUrl(
            params.url,
            '/api/now/table/incident?sysparm_fields=sys_id,number&sysparm_exclude_reference_link=true',
          ),
          headers: { authorization: basicAuth(params.username, params.password) },
          json: {
            short_description: cut(text.title, 160),
            description: cut(plainBody(text), 4000),
            urgency: options.urgency ?? (event.priority === 'LOW' ? '3' : '1'),
            ...(options.impact ? { impact: options.impact } : {}),
            ...(options.callerId ? { caller_id: options.callerId } : {}),
            ...(options.assignmentGroup ? { assignment_group: options.assignmentGroup } : {}),
          },
        });
        if ('outcome' in answer) return answer;
        const id = textField(resultOf(answer.ok.body), 'sys_id');
        if (id === undefined)
          return { outcome: unexpectedAnswer('ServiceNow', answer.ok, 'the sys_id of the new incident') };
        const url = joinUrl(params.url, `/nav_to.do?uri=${encodeURIComponent(`incident.do?sys_id=${id}`)}`);
        return { ok: { id, url, open: true } };
      },
      comment({ input: { params }, run, text }, ticket, headline) {
        return callJson(run, 'ServiceNow', {
          method: 'PATCH',
          url: joinUrl(
            params.url,
            `/api/now/table/incident/${encodeURIComponent(ticket.id)}?sysparm_fields=sys_id`,
          ),
          headers: { authorization: basicAuth(params.username, params.password) },
          json: { work_notes: cut(plainBody(text, headline), 4000) },
        });
      },
      async resolve({ input: { params, options }, run, text }, ticket, headline) {
        const answer = await callJson(run, 'ServiceNow', {
          method: 'PATCH',
          url: joinUrl(
            params.url,
            `/api/now/table/incident/${encodeURIComponent(ticket.id)}?sysparm_fields=sys_id,state`,
          ),
          headers: { authorization: basicAuth(params.username, params.password) },
          json: {
            state: '6',
            close_code: options.closeCode ?? 'Solution provided',
            close_notes: cut(plainBody(text, headline), 4000),
          },
        });
        return 'outcome' in answer ? answer : { ok: { closed: true } };
      },
    }),
  },
});
