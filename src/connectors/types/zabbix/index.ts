import { Type } from '@sinclair/typebox';
import { chatView, clip, titleOf } from '../../chat/format.js';
import { joinUrl } from '../../checks/http.js';
import { rpc } from '../../checks/json-rpc.js';
import { defineConnectorType, param } from '../../define.js';
import type { EventType } from '../../delivery.js';
import { zabbixRpc } from './rpc.js';

/**
 * Whether a Zabbix version takes the API token in the `Authorization: Bearer` header (6.4 and later)
 * rather than in the request's `auth` member (before 6.4; removed in 7.2). An unreadable version is
 * taken as a current one.
 */
export function usesBearerHeader(version: string): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (!match) return true;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 6 || (major === 6 && minor >= 4);
}

/** event.acknowledge's action bits (https://www.zabbix.com/documentation/current/en/manual/api/reference/event/acknowledge). */
export const ACTION = { close: 1, acknowledge: 2, message: 4 } as const;

/** What each event does to the problem; every one adds its text as a message. */
export const ACTIONS: Readonly<Record<EventType, number>> = {
  ALERT: ACTION.message,
  COMMENT: ACTION.message,
  ACCEPT: ACTION.acknowledge | ACTION.message,
  RESOLVE: ACTION.close | ACTION.message,
};

/** The most characters of an acknowledgement message Zabbix keeps. */
export const ZABBIX_MAX_MESSAGE = 2048;

const DONE: Readonly<Record<EventType, string>> = {
  ALERT: 'added a message to',
  COMMENT: 'added a message to',
  ACCEPT: 'acknowledged',
  RESOLVE: 'closed',
};

export const zabbix = defineConnectorType({
  id: 'zabbix',
  displayName: 'Zabbix',
  description: 'Acknowledges and updates Zabbix problems through its JSON-RPC API.',
  params: {
    url: param.url('URL of the Zabbix frontend, e.g. https://zabbix.example.com'),
    apiKey: param.secret('Zabbix API token'),
  },
  check: {
    kind: 'online',
    description:
      'JSON-RPC apiinfo.version, then host.get (limit 1) with the API token as Authorization: Bearer (6.4 and later) or in the auth member (before 6.4)',
    async run(params, context) {
      const url = joinUrl(params.url, '/api_jsonrpc.php');
      const version = await rpc(context, 'Zabbix', { url, method: 'apiinfo.version', params: [] });
      if ('outcome' in version) return version.outcome;
      const release =
        typeof version.result === 'string' && /^[\w.+-]{1,40}$/.test(version.result) ? version.result : '';
      const token = params.apiKey;
      const hosts = await rpc(context, 'Zabbix', {
        url,
        method: 'host.get',
        params: { output: ['hostid'], limit: 1 },
        // Capitalised: Zabbix before 7.2.5 matched the header name case-sensitively (ZBX-22952).
        ...(usesBearerHeader(release)
          ? { headers: { Authorization: `Bearer ${token}` } }
          : { extra: { auth: token } }),
      });
      if ('outcome' in hosts) return hosts.outcome;
      return {
        status: 'ok',
        message: `Zabbix ${release || '(version unknown)'} accepted the API token`,
        httpStatus: 200,
      };
    },
  },
  deliver: {
    kind: 'problem',
    description:
      'JSON-RPC apiinfo.version, then event.acknowledge {eventids: [eventId], action, message} with the API token as check does: ALERT and COMMENT add a message (4), ACCEPT acknowledges (2+4), RESOLVE closes (1+4; the trigger must allow manual close)',
    options: Type.Object(
      {
        eventId: Type.String({
          pattern: '^[0-9]{1,20}$',
          description:
            "the id of the Zabbix problem's event (eventid), e.g. from the alert's {EVENT.ID} macro",
        }),
      },
      { additionalProperties: false },
    ),
    async send({ event, options, params }, run) {
      const url = joinUrl(params.url, '/api_jsonrpc.php');
      const version = await zabbixRpc(run, { url, method: 'apiinfo.version', params: [] });
      if ('outcome' in version) return version.outcome;
      const release = typeof version.result === 'string' ? version.result : '';
      const token = params.apiKey;
      const view = chatView(event);
      const text = view.details ? `${titleOf(view)}\n\n${view.details}` : titleOf(view);
      const action = ACTIONS[event.eventType];
      const acknowledged = await zabbixRpc(run, {
        url,
        method: 'event.acknowledge',
        params: { eventids: [options.eventId], action, message: clip(text, ZABBIX_MAX_MESSAGE) },
        // Capitalised: Zabbix before 7.2.5 matched the header name case-sensitively (ZBX-22952).
        ...(usesBearerHeader(release)
          ? { headers: { Authorization: `Bearer ${token}` } }
          : { extra: { auth: token } }),
      });
      if ('outcome' in acknowledged) return acknowledged.outcome;
      return {
        result: 'delivered',
        message: `Zabbix ${DONE[event.eventType]} the problem of event ${options.eventId}`,
        httpStatus: 200,
        externalRef: { id: options.eventId },
      };
    },
  },
});
