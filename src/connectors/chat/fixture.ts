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
 * already answered).
 */
export function chatFake(take: (request: FakeRequest) => string | undefined): DeliveryFake {
  const actions: FakeAction[] = [];
  return {
    actions,
    answer(request) {
      const text = take(request);
      if (text !== undefined) actions.push({ action: 'message', text });
    },
  };
}
