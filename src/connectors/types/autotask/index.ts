import { isRecord } from '../../../is-record.js';
import { call, describeResponse, joinUrl, type TargetResponse } from '../../checks/http.js';
import { parseJson, quoteShort } from '../../checks/said.js';
import type { CheckOutcome } from '../../checks/types.js';
import { defineConnectorType, param } from '../../define.js';

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

export const autotask = defineConnectorType({
  id: 'autotask',
  displayName: 'Autotask',
  description: 'Opens and updates Autotask tickets.',
  params: {
    url: param.url('Autotask API zone URL, e.g. https://webservices5.autotask.net'),
    email: param.text('User name of the Autotask API user'),
    password: param.secret('Secret of the Autotask API user'),
  },
  check: {
    kind: 'online',
    description:
      'GET {url}/atservicesrest/v1.0/zoneInformation?user=… (the zone lookup for the user); a user in another zone than the URL fails, naming the zone URL (the secret needs an integration code, which connectors do not hold)',
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
      return {
        status: 'ok',
        message: `Autotask knows the user, in zone ${origin}${zoneName}; the secret itself can only be checked with an API integration code`,
        httpStatus: 200,
      };
    },
  },
});
