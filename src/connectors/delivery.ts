import { type Static, type TObject, Type } from '@sinclair/typebox';
import type { CheckRun } from './checks/types.js';

/**
 * Delivering through a connector: what a type declares beside its check (see
 * ../shared/design/deliveries.md and README "Deliveries"). The engine (queue, retries, attempts,
 * tickets kept per alertKey) is elsewhere; a type only turns one event into the calls its target
 * takes, and says what came of them.
 */

export const EVENT_TYPES = ['ALERT', 'ACCEPT', 'RESOLVE', 'COMMENT'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const Link = Type.Object(
  {
    href: Type.String({ format: 'uri', description: 'absolute http: or https: URL' }),
    text: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);

const Image = Type.Object(
  {
    src: Type.String({ format: 'uri', description: 'absolute http: or https: URL of the image' }),
    href: Type.Optional(Type.String({ format: 'uri' })),
    alt: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);

/** The event, in the names of ilert's Events API (`POST /api/events`). */
export const DeliveryEventSchema = Type.Object(
  {
    eventType: Type.Union(
      EVENT_TYPES.map((t) => Type.Literal(t)),
      {
        description:
          'ALERT opens (or comments on the open ticket), ACCEPT and COMMENT comment, RESOLVE resolves',
      },
    ),
    summary: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: 'one line; required for ALERT' }),
    ),
    details: Type.Optional(Type.String({ maxLength: 32_768, description: 'longer text' })),
    alertKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          'the identity of the alert across its events: ticket targets keep one ticket per alertKey',
      }),
    ),
    priority: Type.Optional(Type.Union([Type.Literal('HIGH'), Type.Literal('LOW')])),
    links: Type.Optional(Type.Array(Link, { maxItems: 20 })),
    images: Type.Optional(Type.Array(Image, { maxItems: 20 })),
    customDetails: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'extra fields, shown by targets that can' }),
    ),
  },
  { additionalProperties: false },
);
export type DeliveryEvent = Static<typeof DeliveryEventSchema>;

/** The ticket an earlier delivery made for the same (connector, alertKey), as the engine keeps it. */
export interface Ticket {
  /** The target's id of the ticket (Jira's issue key, GitHub's issue number, ServiceNow's sys_id, ...). */
  readonly id: string;
  /** Where a person sees it, when the target says. */
  readonly url?: string;
  /** False once a RESOLVE closed it: the next ALERT of the key opens a new one. */
  readonly open: boolean;
}

/** What a delivery made at the target: the ticket or message, where the target names one. */
export interface ExternalRef {
  readonly id?: string;
  readonly url?: string;
}

/**
 * What one attempt came to:
 * - `delivered`: the target took it. For ticket targets `ticket` is the ticket of the alertKey as it
 *   now is (opened, commented on, or closed: `open: false`); the engine keeps it.
 * - `retry`: a transient failure (connection error, timeout, 408, 425, 429, 5xx); `retryAfterMs`
 *   from the target's Retry-After (or its own rate-limit header) when it sent one.
 * - `failed`: permanent (another 4xx, a target error such as DingTalk's errcode, a connector that
 *   lacks what delivery needs); no retry.
 * `message` says what the target said, short, and never carries a credential (the engine redacts it
 * again with the run's redactor).
 */
export type DeliveryOutcome =
  | {
      readonly result: 'delivered';
      readonly message: string;
      readonly httpStatus?: number;
      readonly externalRef?: ExternalRef;
      readonly ticket?: Ticket;
    }
  | {
      readonly result: 'retry';
      readonly message: string;
      readonly httpStatus?: number;
      readonly retryAfterMs?: number;
    }
  | { readonly result: 'failed'; readonly message: string; readonly httpStatus?: number };

/** One attempt's run: the check's (the SSRF-safe client, one deadline, the redactor that `call` fills). */
export type DeliveryRun = CheckRun;

/** What `send` gets: the event, the delivery's options (valid by `options`), the connector's params, its ticket. */
export interface DeliveryInput<P, O> {
  readonly event: DeliveryEvent;
  /**
   * The event as JSON text, when the engine has it as queued: what JSON.stringify(event) gives
   * (it was queued as that text), without making it again.
   */
  readonly eventJson?: string;
  readonly options: O;
  readonly params: P;
  /** Ticket targets: the ticket of (connector, event.alertKey), open or closed, if one was made. */
  readonly ticket?: Ticket;
  /** The delivery's id (`dlv_...`), the same on every attempt: targets that take an idempotency key get it. */
  readonly deliveryId?: string;
  /** The connector's id, for targets that name their sender. */
  readonly connectorId?: string;
}

/**
 * How a type delivers. `kind`: `ticket` targets keep a ticket per alertKey, `chat` targets post one
 * message per event, `problem` acts on a Zabbix problem, `webhook` posts the event as it is.
 */
export interface DeliveryDefinition<P, R extends DeliveryRun = DeliveryRun, O extends TObject = TObject> {
  readonly kind: 'ticket' | 'chat' | 'problem' | 'webhook';
  /** The request(s) made, for the catalog and the README, e.g. `POST {url}/rest/api/3/issue`. */
  readonly description: string;
  /**
   * The per-delivery options (`params` of a delivery request), validated like connector params:
   * unknown keys named, required ones enforced. `Type.Object({}, { additionalProperties: false })`
   * when there are none.
   */
  readonly options: O;
  /**
   * Why this connector cannot deliver (answered 422 before anything is queued), e.g. a Slack
   * connector without its webhook `url`: say what to add. Undefined when it can.
   */
  missing?(params: P): string | undefined;
  send(input: DeliveryInput<P, Static<O>>, run: R): Promise<DeliveryOutcome>;
}
