import type { IncomingMessage } from 'node:http';
import { isRecord } from '../../../is-record.js';
import { jsonOf } from '../../chat/fixture.js';
import {
  type DeliveryFake,
  defineFixture,
  type FakeAction,
  type FakeSystem,
  GOOD,
  NOT_FOUND_PAGE,
} from '../../fixture.js';
import { ZABBIX_MAX_MESSAGE, zabbix } from './index.js';

/** The value of a request header whose name is spelled exactly `name` (case-sensitive, as Zabbix < 7.2.5). */
function exactHeader(req: IncomingMessage, name: string): string | undefined {
  const at = req.rawHeaders.indexOf(name);
  return at >= 0 && at % 2 === 0 ? req.rawHeaders[at + 1] : undefined;
}

/**
 * Zabbix JSON-RPC (api_jsonrpc.php) of one version: before 6.4 the token goes in `auth`; from 6.4 in
 * `Authorization: Bearer`, whose name 7.0 matches case-sensitively (ZBX-22952, fixed in 7.2.5); 7.2
 * refuses `auth`. apiinfo.version must be called without authentication.
 */
function zabbixOf(version: string): FakeSystem {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const atLeast = (a: number, b: number) => major > a || (major === a && minor >= b);
  return ({ req, path, body, send }) => {
    if (path !== '/api_jsonrpc.php' || req.method !== 'POST') return send(404, NOT_FOUND_PAGE);
    const call: unknown = JSON.parse(body);
    if (typeof call !== 'object' || call === null || !('method' in call) || typeof call.method !== 'string')
      return send(200, { jsonrpc: '2.0', id: null });
    const id = 'id' in call ? call.id : undefined;
    const answer = (result: object) => send(200, { jsonrpc: '2.0', ...result, id });
    const error = (code: number, message: string, data: string) => answer({ error: { code, message, data } });
    const invalid = (data: string) => error(-32602, 'Invalid params.', data);
    if (atLeast(7, 2) && 'auth' in call)
      return error(-32600, 'Invalid request.', 'Invalid parameter "/": unexpected parameter "auth".');
    if (call.method === 'apiinfo.version') {
      if ('auth' in call || req.headers.authorization !== undefined)
        return invalid('The "apiinfo.version" method must be called without authentication.');
      if (!('params' in call) || !Array.isArray(call.params) || call.params.length > 0)
        return invalid('Invalid parameter "/": an array is expected.');
      return answer({ result: version });
    }
    const header = atLeast(7, 2) ? req.headers.authorization : exactHeader(req, 'Authorization');
    const token = atLeast(6, 4)
      ? /^Bearer (.+)$/.exec(header ?? '')?.[1]
      : 'auth' in call
        ? call.auth
        : undefined;
    if (token === GOOD.token) return answer({ result: [{ hostid: '10084' }] });
    if (token === GOOD.lockedToken) return invalid('API token expired.');
    return invalid(atLeast(6, 4) ? 'Not authorized.' : 'Session terminated, re-login, please.');
  };
}

/** The problem event the fake knows. */
export const KNOWN_EVENT = '4321';

/**
 * Zabbix taking event.acknowledge (after apiinfo.version): the token as `Authorization: Bearer`
 * (7.0) or in the `auth` member (6.0), `eventids`, an `action` bitmask of the known bits, and a
 * `message` whenever bit 4 is set, as Zabbix requires.
 */
export function acknowledgingZabbix(version: '7.0.0' | '6.0.36' = '7.0.0'): DeliveryFake {
  const actions: FakeAction[] = [];
  return {
    actions,
    answer({ req, path, body, send }) {
      if (path !== '/api_jsonrpc.php' || req.method !== 'POST') return send(404, NOT_FOUND_PAGE);
      const call = jsonOf(body);
      if (!isRecord(call) || call.jsonrpc !== '2.0' || typeof call.method !== 'string')
        return send(200, { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid request.' }, id: null });
      const answer = (result: object) => send(200, { jsonrpc: '2.0', ...result, id: call.id });
      const invalid = (data: string) => answer({ error: { code: -32602, message: 'Invalid params.', data } });
      if (call.method === 'apiinfo.version') return answer({ result: version });
      if (call.method !== 'event.acknowledge')
        return answer({ error: { code: -32601, message: 'Method not found.', data: 'Incorrect method.' } });
      const token =
        version === '7.0.0' ? /^Bearer (.+)$/.exec(exactHeader(req, 'Authorization') ?? '')?.[1] : call.auth;
      if (token !== GOOD.token)
        return invalid(version === '7.0.0' ? 'Not authorized.' : 'Session terminated, re-login, please.');
      const params = call.params;
      if (!isRecord(params)) return invalid('Invalid parameter "/": an array or object is expected.');
      const { eventids, action, message } = params;
      if (!Array.isArray(eventids) || eventids.length === 0)
        return invalid('Invalid parameter "/eventids": cannot be empty.');
      if (typeof action !== 'number' || !Number.isInteger(action) || action < 1 || action > 511)
        return invalid('Invalid parameter "/action": value must be one of 1-511.');
      if ((action & 4) === 4 && (typeof message !== 'string' || message === ''))
        return invalid('Invalid parameter "/message": cannot be empty.');
      if (typeof message === 'string' && message.length > ZABBIX_MAX_MESSAGE)
        return invalid('Invalid parameter "/message": value is too long.');
      if (eventids.some((id) => String(id) !== KNOWN_EVENT))
        return answer({
          error: {
            code: -32500,
            message: 'Application error.',
            data: 'No permissions to referred object or it does not exist!',
          },
        });
      for (const id of eventids) actions.push({ action: 'problem', eventId: String(id), bits: action });
      return answer({ result: { eventids: eventids.map(Number) } });
    },
  };
}

export const fixture = defineFixture(zabbix, {
  example: { url: 'https://zabbix.example.com', apiKey: 'zabbix-api-token' },
  target: {
    params: (base, { token }) => ({ url: base, apiKey: token }),
    answer: zabbixOf('7.0.0'),
    versions: { '6.0.36': zabbixOf('6.0.36'), '7.2.6': zabbixOf('7.2.6') },
    locked: /refused host\.get: Invalid params\. API token expired\./,
  },
  delivery: {
    params: (base, { token }) => ({ url: base, apiKey: token }),
    options: { eventId: KNOWN_EVENT },
    fake: () => acknowledgingZabbix(),
  },
});
