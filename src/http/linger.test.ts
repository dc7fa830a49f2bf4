import { connect, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installLingeringClose } from './linger.js';

const settings = { totalMs: 1_500, idleMs: 300, maxBytes: 256 * 1024 };

let app: FastifyInstance;
let port = 0;
beforeEach(async () => {
  app = Fastify({ bodyLimit: 1024 });
  installLingeringClose(app, settings);
  app.post('/', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  port = address.port;
});
afterEach(async () => {
  for (const promise of serverClosed) await promise;
  serverClosed = [];
  await app.close();
});

/** When the server let go of each connection, in ms after it was accepted. */
let serverClosed: Promise<number>[] = [];

/**
 * A half-open connection (reading the server's end does not end this side, which can go on
 * sending) that has sent headers announcing `length` bytes of body; what it reads, and when the
 * server closed its socket.
 */
function open(length: number) {
  const closed = new Promise<number>((resolve) =>
    app.server.once('connection', (server: Socket) => {
      const at = Date.now();
      server.once('close', () => resolve(Date.now() - at));
    }),
  );
  serverClosed.push(closed);
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const state = { socket, received: '' };
  socket.on('data', (chunk) => {
    state.received += String(chunk);
  });
  socket.on('error', () => {});
  /** Resolves once the client has read the server's end of the stream, the answer before it. */
  const ended = new Promise((resolve) => socket.once('end', resolve));
  socket.write(
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`,
  );
  return { state, closed, ended };
}

const send = (socket: Socket, bytes: number) => socket.write(Buffer.alloc(bytes, 0x61));

describe('lingering close after an answer sent before the body arrived', () => {
  it('closes as soon as the rest of the body has arrived', async () => {
    const { state, closed, ended } = open(100_000);
    send(state.socket, 100_000);
    expect(await closed).toBeLessThan(settings.idleMs);
    await ended;
    expect(state.received).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('closes after a silence of idleMs, the answer read', async () => {
    const { state, closed, ended } = open(100_000);
    send(state.socket, 10_000);
    await ended;
    const after = await closed;
    expect(after).toBeGreaterThanOrEqual(settings.idleMs - 50);
    expect(after).toBeLessThan(settings.totalMs);
    expect(state.received).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('closes after totalMs however slowly the client keeps sending', async () => {
    const { state, closed, ended } = open(10_000_000);
    const trickle = setInterval(() => send(state.socket, 100), settings.idleMs / 3);
    try {
      const after = await closed;
      expect(after).toBeGreaterThanOrEqual(settings.totalMs - 50);
      expect(after).toBeLessThan(settings.totalMs + 1_000);
    } finally {
      clearInterval(trickle);
      state.socket.destroy();
    }
    await ended;
    expect(state.received).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('cuts off a client that sends more than maxBytes', async () => {
    const { state, closed } = open(100_000_000);
    const flood = setInterval(() => {
      if (!state.socket.destroyed) send(state.socket, 64 * 1024);
    }, 1);
    try {
      expect(await closed).toBeLessThan(settings.totalMs);
    } finally {
      clearInterval(flood);
      state.socket.destroy();
    }
  });

  it('leaves a keep-alive answer alone: the connection serves the next request', async () => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += String(chunk);
    });
    const request =
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
    socket.write(request + request);
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.destroy();
    expect(received.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
  });
});
