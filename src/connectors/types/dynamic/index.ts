import { Type } from '@sinclair/typebox';
import { defineConnectorType, param } from '../../define.js';
import { sendAndJudge } from '../../delivery-http.js';

/**
 * The header that carries the delivery's id: the same on every attempt of one delivery, so a
 * service can drop a repeat (at-least-once delivery can send one twice). The name Stripe, Svix and
 * the IETF draft (draft-ietf-httpapi-idempotency-key-header) use.
 */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

export const dynamic = defineConnectorType({
  id: 'dynamic',
  displayName: 'Dynamic webhook',
  description: 'Calls your own web service for dynamic alert actions.',
  params: {
    url: param.url('URL of the action-request endpoint of your web service'),
    responseUrl: param.url('Optional URL the action response is sent to', { required: false }),
    authorization: param.secret('Optional value of the HTTP Authorization header sent to your service', {
      required: false,
    }),
  },
  check: {
    kind: 'offline',
    reason: 'calling your action endpoint could trigger an action, so Plugboard does not call it to test it',
  },
  deliver: {
    kind: 'webhook',
    description:
      'POST {url} with the event as JSON (application/json), the Authorization header when set, Idempotency-Key: the delivery id (the same on every attempt), X-Plugboard-Connector: the connector id',
    options: Type.Object({}, { additionalProperties: false }),
    send(input, run) {
      // Not destructured: `event` is parsed from `eventJson` when read (a getter), and the text is sent.
      const { params, deliveryId, connectorId } = input;
      return sendAndJudge(run, 'your web service', {
        method: 'POST',
        url: params.url,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(params.authorization ? { authorization: params.authorization } : {}),
          ...(deliveryId ? { [IDEMPOTENCY_HEADER]: deliveryId } : {}),
          ...(connectorId ? { 'X-Plugboard-Connector': connectorId } : {}),
        },
        body: input.eventJson ?? JSON.stringify(input.event),
      });
    },
  },
});
