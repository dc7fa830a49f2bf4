import { joinUrl } from '../../checks/http.js';
import { rpc } from '../../checks/json-rpc.js';
import { defineConnectorType, param } from '../../define.js';

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
});
