import { isRecord } from '../../is-record.js';
import { parseJson } from '../checks/said.js';
import type { FakeAction, FakeRequest } from '../fixture.js';

// Test support for the fakes of ticket targets (types/<id>/fixture.ts), kept out of the build like
// every fixture: the tickets a fake made and what it did, and the checks each fake makes of a body.

/** The tickets of one fake target: which are open, and what was done to them, in order. */
export class TicketBook {
  readonly actions: FakeAction[] = [];
  private readonly tickets = new Map<string, { open: boolean }>();
  private count = 0;

  /** Opens a ticket: its id is `prefix` and the next number. */
  open(prefix = ''): string {
    this.count += 1;
    const id = `${prefix}${this.count}`;
    this.tickets.set(id, { open: true });
    this.actions.push({ action: 'open', ticket: id });
    return id;
  }

  has(id: string): boolean {
    return this.tickets.has(id);
  }

  isOpen(id: string): boolean {
    return this.tickets.get(id)?.open === true;
  }

  comment(id: string): void {
    this.actions.push({ action: 'comment', ticket: id });
  }

  close(id: string): void {
    const ticket = this.tickets.get(id);
    if (ticket) ticket.open = false;
    this.actions.push({ action: 'close', ticket: id });
  }
}

/** The request's JSON body as an object, or undefined when it is none. */
export function jsonObject(request: FakeRequest): Record<string, unknown> | undefined {
  const body = parseJson(request.body)?.value;
  return isRecord(body) ? body : undefined;
}

/** `object[name]` when it is an object. */
export function objectAt(object: unknown, name: string): Record<string, unknown> | undefined {
  if (!isRecord(object)) return undefined;
  const value = object[name];
  return isRecord(value) ? value : undefined;
}

/** True for a non-empty string of at most `max` characters at `object[name]`. */
export function isTextAt(object: unknown, name: string, max = Number.POSITIVE_INFINITY): boolean {
  if (!isRecord(object)) return false;
  const value = object[name];
  return typeof value === 'string' && value.trim() !== '' && value.length <= max;
}

/** `METHOD path` of a request, to match routes by. */
export function route(request: FakeRequest): string {
  return `${request.req.method ?? 'GET'} ${request.path}`;
}

/** The id in a path such as `/api/v1/tickets/12`, matched by a pattern with one group. */
export function idIn(path: string, pattern: RegExp): string | undefined {
  const found = pattern.exec(path)?.[1];
  return found === undefined ? undefined : decodeURIComponent(found);
}
