import { type Static, Type } from '@sinclair/typebox';
import { type ConnectorType, UnvalidatedParamsError } from '../define.js';
import { Redactor } from './redact.js';
import type { CheckContext, CheckRun, CheckStatus, Params } from './types.js';

export const CheckResultSchema = Type.Object({
  ok: Type.Boolean(),
  status: Type.Union(
    (
      ['ok', 'failed', 'unreachable', 'blocked', 'not_checkable'] as const satisfies readonly CheckStatus[]
    ).map((s) => Type.Literal(s)),
    {
      description:
        'ok: the target accepted the credentials; failed: it refused them, or the answer was not its API; ' +
        'unreachable: no answer; blocked: the target is on a private, loopback, link-local or other ' +
        'non-public address that PLUGBOARD_ALLOWED_TARGETS does not allow, so nothing was sent; ' +
        'not_checkable: the type cannot be checked without posting a message',
    },
  ),
  message: Type.String({
    description: 'what the target said, or why it could not be asked; never a credential',
  }),
  httpStatus: Type.Optional(Type.Integer({ description: "the target's HTTP status, when it answered" })),
  latencyMs: Type.Integer(),
  checkedAt: Type.String({ format: 'date-time' }),
});
export type CheckResult = Static<typeof CheckResultSchema>;

/**
 * Runs a type's check; whatever happens at the target, the answer is a result. All its calls share
 * one deadline (the client's time limit, from the start of the check), and its message is redacted of
 * the secret params and of every credential its calls sent (collected by `call`).
 */
export async function runCheck(
  type: ConnectorType,
  params: Params,
  context: CheckContext,
): Promise<CheckResult> {
  const started = performance.now();
  const redactor = new Redactor();
  for (const name of type.secretParams) {
    const secret = params[name];
    if (secret) redactor.addSecret(secret);
  }
  const run: CheckRun = { ...context, deadline: Date.now() + context.http.timeoutMs, redactor };
  const definition = type.check;
  let outcome: { status: CheckResult['status']; message: string; httpStatus?: number };
  if (definition.kind === 'offline') {
    const problem = definition.validate?.problem(params);
    outcome = problem
      ? { status: 'failed', message: `${problem}; ${definition.reason}` }
      : { status: 'not_checkable', message: definition.reason };
  } else {
    try {
      outcome = await definition.run(params, run);
    } catch (error) {
      if (error instanceof UnvalidatedParamsError) throw error;
      // A target's answer that a check did not foresee is still the target's failure, not ours.
      outcome = {
        status: 'failed',
        message: `${type.displayName} gave an answer that could not be understood`,
      };
    }
  }
  return {
    ok: outcome.status === 'ok',
    status: outcome.status,
    message: redactor.redactMessage(outcome.message),
    ...(outcome.httpStatus === undefined ? {} : { httpStatus: outcome.httpStatus }),
    latencyMs: Math.round(performance.now() - started),
    checkedAt: new Date().toISOString(),
  };
}
