import { isRecord } from '../../../is-record.js';
import { describeResponse } from '../../checks/http.js';
import { type RpcCall, rpcRequest } from '../../checks/json-rpc.js';
import type { DeliveryOutcome, DeliveryRun } from '../../delivery.js';
import { deliveryCall, judgeDelivery, readAnswer } from '../../delivery-http.js';

/** Zabbix's answer when the event does not exist or the token's user may not see it. */
const NO_SUCH_OBJECT = /No permissions to referred object or it does not exist/i;

/**
 * One JSON-RPC call of a delivery: the `result`, or the outcome of the attempt. A status other than
 * 200 is read the usual way (5xx, 429 retried); a 200 without a JSON-RPC answer means the URL is not
 * Zabbix's API; a JSON-RPC error is Zabbix's refusal (permanent), quoted.
 */
export async function zabbixRpc(
  run: DeliveryRun,
  request: RpcCall,
): Promise<{ result: unknown } | { outcome: DeliveryOutcome }> {
  const answer = await deliveryCall(run, rpcRequest(request));
  if ('outcome' in answer) return answer;
  const { response } = answer;
  if (response.status !== 200) {
    const usual = judgeDelivery(response, 'Zabbix');
    if (usual.result !== 'delivered') return { outcome: usual };
  }
  const reading = readAnswer(run, response);
  const body = reading && 'value' in reading ? reading.value : undefined;
  if (!isRecord(body) || (!('result' in body) && !isRecord(body.error))) {
    return {
      outcome: {
        result: 'failed',
        message: `no Zabbix JSON-RPC API at this URL (${describeResponse(response)}); check the url`,
        httpStatus: response.status,
      },
    };
  }
  if (isRecord(body.error)) {
    const said = response.said ?? 'error';
    const hint = NO_SUCH_OBJECT.test(said)
      ? "; check the delivery's eventId and that the API token's user has rights on the host"
      : '';
    return {
      outcome: {
        result: 'failed',
        message: `Zabbix refused ${request.method}: ${said}${hint}`,
        httpStatus: response.status,
      },
    };
  }
  return { result: body.result };
}
