import { connect, createServer, type Server, type Socket } from 'node:net';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.js';
import { isDatabaseUnavailable } from '../src/store/errors.js';
import { dropPostgresSchema, newPostgresLocation } from './backend.js';

/**
 * A TCP proxy to PostgreSQL that can go silent: it keeps every connection open but stops
 * forwarding, like a network that drops packets (not one that refuses them).
 */
async function silenceableProxy(target: URL): Promise<{ port: number; silent: boolean; close(): void }> {
  const sockets = new Set<Socket>();
  const state = { silent: false };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (!state.silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!state.silent) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    get silent() {
      return state.silent;
    },
    set silent(value: boolean) {
      state.silent = value;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('PostgreSQL behind a network that goes silent', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('fails a query after the client timeout, discards the silent connection, and recovers', async () => {
    const location = await newPostgresLocation();
    cleanup.push(() => dropPostgresSchema(location.schema ?? ''));
    const url = new URL(location.url);
    const proxy = await silenceableProxy(new URL(location.url));
    cleanup.push(() => proxy.close());
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    // One connection, so that the second query would get the silent one again if it were kept.
    const handle = openDatabase({ ...location, url: url.toString() }, { poolSize: 1, queryTimeoutMs: 500 });
    cleanup.push(() => handle.close());
    expect((await sql<{ one: number }>`select 1 as one`.execute(handle.db)).rows[0]?.one).toBe(1);

    proxy.silent = true;
    const started = Date.now();
    const failure = await sql`select 2`.execute(handle.db).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(isDatabaseUnavailable(failure)).toBe(true); // a 503, not a 500

    // The network answers again: the next query gets a new connection, not the silent one.
    proxy.silent = false;
    const again = Date.now();
    expect((await sql<{ three: number }>`select 3 as three`.execute(handle.db)).rows[0]?.three).toBe(3);
    expect(Date.now() - again).toBeLessThan(2_000);
  });
});
