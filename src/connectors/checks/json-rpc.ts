import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { call, describeResponse } from './http.js';
import { parseJson } from './said.js';
import type { CheckOutcome, CheckRun } from './types.js';

/** A JSON-RPC 2.0 answer: a `result`, or an `error` (`{code, message, data?}`). */
const RpcAnswerSchema = Type.Object({
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(
    Type.Object({
      code: Type.Optional(Type.Number()),
      message: Type.Optional(Type.String()),
      data: Type.Optional(Type.Unknown()),
    }),
  ),
});
type RpcAnswer = Static<typeof RpcAnswerSchema>;

export interface RpcCall {
  readonly url: string;
  readonly method: string;
  readonly params: unknown;
  /** Extra members of the request object (e.g. Zabbix's `auth` before 6.4). */
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The HTTP request of one JSON-RPC 2.0 call (checks and Zabbix deliveries send the same). */
export function rpcRequest(request: RpcCall) {
  return {
    method: 'POST',
    url: request.url,
    headers: { 'content-type': 'application/json-rpc', accept: 'application/json', ...request.headers },
    body: JSON.stringify({
      jsonrpc: '2.0',
      method: request.method,
      params: request.params,
      ...request.extra,
      id: 1,
    }),
  } as const;
}

/**
 * One JSON-RPC call; the `result`, or the outcome that ends the check: no JSON-RPC answer at all
 * (`notFound` names the service), or a JSON-RPC error quoted with its message and data.
 */
export async function rpc(
  run: CheckRun,
  service: string,
  request: RpcCall,
): Promise<{ result: unknown } | { outcome: CheckOutcome }> {
  const answer = await call(run, rpcRequest(request));
  if ('outcome' in answer) return answer;
  const { response } = answer;
  const parsed = parseJson(response.body, run.answers)?.value;
  const body: RpcAnswer | undefined = Value.Check(RpcAnswerSchema, parsed) ? parsed : undefined;
  if (response.status !== 200 || !body || (body.result === undefined && body.error === undefined)) {
    return {
      outcome: {
        status: 'failed',
        message: `no ${service} JSON-RPC API at this URL (${describeResponse(response)})`,
        httpStatus: response.status,
      },
    };
  }
  if (body.error !== undefined) {
    return {
      outcome: {
        status: 'failed',
        message: `${service} refused ${request.method}: ${response.said ?? 'error'}`,
        httpStatus: response.status,
      },
    };
  }
  return { result: body.result };
}
