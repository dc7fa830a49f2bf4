import type { DeliveryFake, FakeAction, FakeRequest } from '../fixture.js';

// Test support shared by the chat types' fakes (kept out of the build like every fixture.ts).

/** A JSON request body, or undefined when it is not JSON (the fake then answers as its system does). */
export function jsonOf(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * A fake chat target: `take` answers each request as the system does and returns the text of the
 * message it posted (recorded as a `message` action), or undefined when it refused the request (and
 * already answered). `last` keeps the last body posted, for tests that look at the shape.
 */
export function chatFake(take: (request: FakeRequest) => string | undefined): DeliveryFake & {
  readonly bodies: unknown[];
} {
  const actions: FakeAction[] = [];
  const bodies: unknown[] = [];
  return {
    actions,
    bodies,
    answer(request) {
      const text = take(request);
      if (text === undefined) return;
      bodies.push(jsonOf(request.body));
      actions.push({ action: 'message', text });
    },
  };
}
