/** The part of autocannon 8's programmatic API that the bench's load generator uses (autocannon ships no types). */
declare module 'autocannon' {
  /** One request, or with setupRequest one built anew for every send. */
  interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | undefined;
    setupRequest?: (request: Request) => Request;
    onResponse?: (status: number, body: string) => void;
  }
  interface Options {
    url: string;
    connections: number;
    requests: Request[];
    /** Seconds before a request counts as a timeout. */
    timeout: number;
    /** Stop after this many requests. */
    amount?: number;
    /** Stop after this many seconds. */
    duration?: number;
  }
  interface Result {
    errors: number;
    timeouts: number;
  }
  interface Instance {
    on(event: 'start', listener: () => void): this;
    on(
      event: 'response',
      listener: (client: unknown, status: number, bytes: number, ms: number) => void,
    ): this;
    stop(): void;
  }
  export default function autocannon(
    options: Options,
    done: (error: Error | null, result: Result) => void,
  ): Instance;
}
