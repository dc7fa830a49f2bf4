import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOutboundClient } from './client.js';
import { OutboundError } from './types.js';

// A caller's deadline, the reason phrase and the client's limits; everything on 127.0.0.1.

let server: http.Server;
let base = '';
let connections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/hang') return;
    if (req.url === '/late') {
      setTimeout(() => res.end('late'), 250);
      return;
    }
    res.writeHead(401, 'Token Expired', { 'content-type': 'text/plain' }).end('expired');
  });
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  base = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OutboundError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

describe('a caller’s deadline', () => {
  const client = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 2000 });

  it('ends a call before the client’s own time limit, and says so', async () => {
    const started = Date.now();
    const error = await failure(
      client.request({ method: 'GET', url: `${base}/hang`, deadline: Date.now() + 200 }),
    );
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('deadline');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('is shared by consecutive calls: the second one only gets what is left', async () => {
    const deadline = Date.now() + 400;
    expect((await client.request({ method: 'GET', url: `${base}/late`, deadline })).body).toBe('late');
    const error = await failure(client.request({ method: 'GET', url: `${base}/late`, deadline }));
    expect(error.kind).toBe('timeout');
  });

  it('fails at once, without connecting, when it has passed', async () => {
    const before = connections;
    const error = await failure(
      client.request({ method: 'GET', url: `${base}/final`, deadline: Date.now() - 1 }),
    );
    expect(error.kind).toBe('timeout');
    expect(connections).toBe(before);
  });

  it('has passed when it is now: nothing is sent', async () => {
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now);
    const request = vi.spyOn(http, 'request');
    try {
      const error = await failure(client.request({ method: 'GET', url: `${base}/final`, deadline: now }));
      expect(error.kind).toBe('timeout');
      expect(request).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('never lengthens the client’s own limit', async () => {
    const short = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 200 });
    const started = Date.now();
    const error = await failure(
      short.request({ method: 'GET', url: `${base}/hang`, deadline: Date.now() + 60_000 }),
    );
    expect(error.message).toContain('within 200 ms');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('what the client tells', () => {
  it('keeps the reason phrase of the status line', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const response = await client.request({ method: 'GET', url: `${base}/any` });
    expect(response).toMatchObject({ status: 401, statusMessage: 'Token Expired', body: 'expired' });
  });

  it('exposes its time limit and body limit', () => {
    expect(createOutboundClient({ timeoutMs: 1234, maxBytes: 99 })).toMatchObject({
      timeoutMs: 1234,
      maxBytes: 99,
    });
    expect(createOutboundClient()).toMatchObject({ timeoutMs: 5000, maxBytes: 1024 * 1024 });
  });

  it('refuses a header value HTTP cannot carry as invalid_header, sending nothing', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const before = connections;
    for (const token of ['abc\ndef', 'tok€n123']) {
      const error = await failure(
        client.request({ method: 'GET', url: `${base}/any`, headers: { authorization: `Bearer ${token}` } }),
      );
      expect(error.kind).toBe('invalid_header');
      expect(error.message).not.toContain(token);
    }
    expect(connections).toBe(before);
  });
});
