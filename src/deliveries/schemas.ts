import { Type } from '@sinclair/typebox';
import { DeliveryEventSchema } from '../connectors/delivery.js';
import { DELIVERY_STATES } from '../store/delivery-store.js';

const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC, millisecond precision' });

export const DeliveryStateSchema = Type.Unsafe<string>({
  type: 'string',
  enum: [...DELIVERY_STATES],
  description:
    'queued (waiting for its first attempt), sending (an attempt is under way), retrying (waiting for ' +
    'the next attempt after a transient failure), delivered, failed (a permanent failure, or retries ' +
    'exhausted after about a day), cancelled',
});

export const DeliveryParamsSchema = Type.Record(Type.String(), Type.Unknown(), {
  description:
    "the delivery's options for the connector's type (e.g. jira `project`, `issueType`); " +
    "GET /api/connector-types lists each type's; unknown keys are refused",
});

/** POST /api/connectors/{id}/deliveries */
export const DeliveryInputSchema = Type.Object(
  {
    event: DeliveryEventSchema,
    params: Type.Optional(DeliveryParamsSchema),
  },
  { additionalProperties: false, description: 'An event to deliver through the connector' },
);

export const AttemptSchema = Type.Object({
  number: Type.Integer({ minimum: 1 }),
  startedAt: Timestamp,
  durationMs: Type.Integer({ minimum: 0 }),
  httpStatus: Type.Optional(Type.Integer({ description: "the target's HTTP status, when it answered" })),
  outcome: Type.Unsafe<string>({
    type: 'string',
    enum: ['delivered', 'retry', 'failed', 'interrupted'],
    description:
      'interrupted: the server sending it stopped before recording an answer, and the delivery was sent again',
  }),
  message: Type.String({
    description: 'what the target said, or why it could not be asked; never a credential',
  }),
});

export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'dlv_ and 22 characters' }),
  connectorId: Type.String(),
  connectorType: Type.String(),
  event: DeliveryEventSchema,
  params: DeliveryParamsSchema,
  state: DeliveryStateSchema,
  attempts: Type.Array(AttemptSchema),
  nextAttemptAt: Type.Optional(Timestamp),
  externalRef: Type.Optional(
    Type.Object(
      { id: Type.Optional(Type.String()), url: Type.Optional(Type.String()) },
      { description: 'the ticket or message the target made, where it names one' },
    ),
  ),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  finishedAt: Type.Optional(Timestamp),
});

export const DeliveryListSchema = Type.Array(DeliverySchema);
