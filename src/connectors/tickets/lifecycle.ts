import type { DeliveryInput, DeliveryOutcome, DeliveryRun, Ticket } from '../delivery.js';
import type { Step } from './http.js';
import { commentHeadline, type EventText, eventText } from './text.js';

/**
 * The life of a ticket per (connector, alertKey), the same for every ticket target:
 *
 * - `ALERT` opens a ticket, or comments on the key's ticket while it is open (no duplicate);
 * - `ACCEPT` and `COMMENT` comment on the key's ticket (open or closed);
 * - `RESOLVE` resolves or closes the open ticket (`open: false`), so that the next `ALERT` opens a
 *   new one; a target that cannot close it here comments instead and keeps it open;
 * - an event that needs a ticket where there is none (no earlier `ALERT` of the key, or a `RESOLVE`
 *   of a closed one) is delivered without a call, saying so: there is nothing to act on, and sending
 *   it again would not change that.
 *
 * A type says how its target opens, comments on and closes a ticket; the rest is here.
 */

/** What a type's ticket operations get: the delivery's input, its run, and the event's text. */
export interface TicketCall<P, O, R extends DeliveryRun> {
  readonly input: DeliveryInput<P, O>;
  readonly run: R;
  readonly text: EventText;
}

/** What a resolve came to: the ticket closed, or kept open with why (e.g. Jira without a done transition). */
export type Resolved = { readonly closed: true } | { readonly closed: false; readonly why: string };

export interface TicketTarget<P, O, R extends DeliveryRun> {
  /** The target's name in messages: `Jira`. */
  readonly service: string;
  /** What the target calls a ticket: `issue`, `incident`, `ticket`. */
  readonly noun: string;
  /** Opens a ticket from the event: its id and URL. */
  open(call: TicketCall<P, O, R>): Promise<Step<Ticket>>;
  /** Adds `headline` and the event's text to the ticket. */
  comment(call: TicketCall<P, O, R>, ticket: Ticket, headline: string): Promise<Step<unknown>>;
  /** Resolves or closes the ticket, with `headline` and the event's text as its note where the target keeps one. */
  resolve(call: TicketCall<P, O, R>, ticket: Ticket, headline: string): Promise<Step<Resolved>>;
}

function refOf(ticket: Ticket) {
  return { id: ticket.id, ...(ticket.url ? { url: ticket.url } : {}) };
}

function delivered(message: string, ticket: Ticket): DeliveryOutcome {
  return { result: 'delivered', message, externalRef: refOf(ticket), ticket };
}

/** The `send` of a ticket target. */
export function ticketSend<P, O, R extends DeliveryRun>(target: TicketTarget<P, O, R>) {
  return async (input: DeliveryInput<P, O>, run: R): Promise<DeliveryOutcome> => {
    const { event, ticket } = input;
    const call: TicketCall<P, O, R> = { input, run, text: eventText(event) };
    const { service, noun } = target;
    const key = event.alertKey ? `alertKey ${event.alertKey}` : 'this event (it has no alertKey)';

    if (event.eventType === 'ALERT' && !ticket?.open) {
      const opened = await target.open(call);
      if ('outcome' in opened) return opened.outcome;
      return delivered(`${service} opened ${noun} ${opened.ok.id}`, opened.ok);
    }
    if (!ticket) {
      return {
        result: 'delivered',
        message: `no ${service} ${noun} was opened for ${key}, so there is nothing to ${event.eventType === 'RESOLVE' ? 'resolve' : 'comment on'}; nothing was sent`,
      };
    }
    const headline = commentHeadline(call.text, event.eventType);
    if (event.eventType === 'RESOLVE') {
      if (!ticket.open) {
        return delivered(`${service} ${noun} ${ticket.id} is already closed; nothing was sent`, ticket);
      }
      const resolved = await target.resolve(call, ticket, headline);
      if ('outcome' in resolved) return resolved.outcome;
      if (!resolved.ok.closed) {
        return delivered(`${service} ${noun} ${ticket.id}: commented; ${resolved.ok.why}`, ticket);
      }
      return delivered(`${service} closed ${noun} ${ticket.id}`, { ...ticket, open: false });
    }
    const commented = await target.comment(call, ticket, headline);
    if ('outcome' in commented) return commented.outcome;
    return delivered(`${service} commented on ${noun} ${ticket.id}`, ticket);
  };
}
