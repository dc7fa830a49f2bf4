import { call, describeResponse, joinUrl, targetMessage, value } from '../checks/http.js';
import type { CheckContext, CheckOutcome } from '../checks/types.js';
import { defineConnectorType, param } from '../define.js';

/** One JSON-RPC call; the parsed `result`, or the outcome that ends the check. */
async function rpc(
  context: CheckContext,
  url: string,
  method: string,
  params: unknown,
  token?: string,
): Promise<{ result: unknown } | { outcome: CheckOutcome }> {
  const answer = await call(context, {
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/json-rpc',
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  });
  if ('outcome' in answer) return answer;
  const { response } = answer;
  let body: { result?: unknown; error?: unknown } | undefined;
  try {
    body = JSON.parse(response.body) as { result?: unknown; error?: unknown };
  } catch {
    body = undefined;
  }
  if (response.status !== 200 || !body || (body.result === undefined && body.error === undefined)) {
    return {
      outcome: {
        status: 'failed',
        message: `no Zabbix JSON-RPC API at this URL (${describeResponse(response)})`,
        httpStatus: response.status,
      },
    };
  }
  if (body.error !== undefined) {
    return {
      outcome: {
        status: 'failed',
        message: `Zabbix refused ${method}: ${targetMessage(response) ?? 'error'}`,
        httpStatus: response.status,
      },
    };
  }
  return { result: body.result };
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
    description: 'JSON-RPC apiinfo.version, then host.get (limit 1) with the API token',
    async run(params, context) {
      const url = joinUrl(value(params, 'url'), '/api_jsonrpc.php');
      const version = await rpc(context, url, 'apiinfo.version', {});
      if ('outcome' in version) return version.outcome;
      const hosts = await rpc(
        context,
        url,
        'host.get',
        { output: ['hostid'], limit: 1 },
        value(params, 'apiKey'),
      );
      if ('outcome' in hosts) return hosts.outcome;
      return {
        status: 'ok',
        message: `Zabbix ${String(version.result)} accepted the API token`,
        httpStatus: 200,
      };
    },
  },
});
