import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestContext } from '../helpers.js';

/**
 * A client that sends an oversized body and reads the answer only once it is sent (what a blocking
 * client such as Python's requests does; the review's client got EPIPE in 6 of 20 tries) must read
 * the 413, not lose it to a reset because the server closed the connection while the body was
 * still arriving: a write that fails with EPIPE or ECONNRESET ends such a client's request.
 */
describe('an oversized body on a real socket', () => {
  let t: TestContext;
  let port = 0;
  beforeAll(async () => {
    t = await buildTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    port = address.port;
  });
  afterAll(() => t.close());

  /** Sends the headers and `size` bytes of body at once; what the client read, and the socket error if any. */
  function send(size: number, chunked: boolean): Promise<{ received: string; error?: string }> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      // Nothing is read before the whole request is written.
      socket.pause();
      let received = '';
      let error: string | undefined;
      socket.on('data', (chunk) => {
        received += String(chunk);
      });
      socket.on('error', (e: NodeJS.ErrnoException) => {
        error ??= e.code ?? e.message;
      });
      socket.on('close', () => resolve(error === undefined ? { received } : { received, error }));
      const body = Buffer.alloc(size, 0x61);
      const framing = chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${size}\r\n`;
      socket.write(
        `POST /api/connectors HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${t.keys.write}\r\n` +
          `Content-Type: application/json\r\n${framing}\r\n`,
      );
      if (chunked) {
        socket.write(`${size.toString(16)}\r\n`);
        socket.write(body);
        socket.end('\r\n0\r\n\r\n', () => socket.resume());
      } else socket.end(body, () => socket.resume());
      setTimeout(() => socket.destroy(), 20_000).unref();
    });
  }

  it.each([
    ['Content-Length', false],
    ['chunked', true],
  ])('is answered 413 and the client reads it, 20 times out of 20 (%s, 4 MiB)', async (_label, chunked) => {
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { received, error } = await send(4 * 1024 * 1024, chunked);
      outcomes.push(received.startsWith('HTTP/1.1 413 ') ? '413' : `no 413 (${error ?? 'closed'})`);
      if (received.startsWith('HTTP/1.1 413 ')) {
        expect(received).toMatch(/\r\nconnection: close\r\n/i);
        expect(received).toContain('"code":"PAYLOAD_TOO_LARGE"');
      }
    }
    expect(outcomes.filter((o) => o !== '413')).toEqual([]);
  });
});
