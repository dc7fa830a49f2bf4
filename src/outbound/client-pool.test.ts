import dns from 'node:dns';
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOutboundClient } from './client.js';
import { OutboundError } from './types.js';

// Keep-alive pools (OutboundRequest.pool): what may share a connection and what may not. The
// servers listen on 127.0.0.1 and 127.0.0.2 (both this machine) on one port, so that one host
// name can lead to either.

interface Target {
  server: http.Server;
  connections: number;
  requests: number;
}

function target(host: string, port = 0): Promise<Target> {
  const state: Target = {
    server: http.createServer((req, res) => {
      state.requests++;
      req.resume();
      req.on('end', () => res.end(host));
    }),
    connections: 0,
    requests: 0,
  };
  state.server.keepAliveTimeout = 30_000;
  state.server.on('connection', () => state.connections++);
  return new Promise((resolve, reject) => {
    state.server.once('error', reject);
    state.server.listen(port, host, () => resolve(state));
  });
}

const portOf = (t: Target) => (t.server.address() as net.AddressInfo).port;
const opened: Target[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const t of opened.splice(0)) {
    t.server.closeAllConnections();
    await new Promise((resolve) => t.server.close(resolve));
  }
});

async function targets(): Promise<[Target, Target]> {
  const one = await target('127.0.0.1');
  const two = await target('127.0.0.2', portOf(one));
  opened.push(one, two);
  return [one, two];
}

function resolveTo(address: string) {
  return vi
    .spyOn(dns.promises, 'lookup')
    .mockImplementation((async () => [{ address, family: 4 }]) as unknown as typeof dns.promises.lookup);
}

describe('connection pools', () => {
  it('calls of one pool reuse one connection; calls without a pool open one each', async () => {
    const [one] = await targets();
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const url = `http://127.0.0.1:${portOf(one)}/`;
    for (let i = 0; i < 3; i++)
      await client.request({ method: 'POST', url, body: '{}', pool: 'acct1/con_a' });
    expect(one.connections).toBe(1);
    await client.request({ method: 'GET', url });
    await client.request({ method: 'GET', url });
    expect(one.connections).toBe(3);
    expect(one.requests).toBe(5);
  });

  it('two pools (two connectors) never share a connection', async () => {
    const [one] = await targets();
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const url = `http://127.0.0.1:${portOf(one)}/`;
    await client.request({ method: 'GET', url, pool: 'acct1/con_a' });
    await client.request({ method: 'GET', url, pool: 'acct2/con_b' });
    await client.request({ method: 'GET', url, pool: 'acct1/con_a' });
    expect(one.connections).toBe(2);
  });

  it('a host name that now resolves elsewhere gets a new connection to the address it now checked', async () => {
    const [one, two] = await targets();
    const client = createOutboundClient({ allowedTargets: ['127.0.0.0/8'] });
    const url = `http://svc.example.test:${portOf(one)}/`;
    resolveTo('127.0.0.1');
    expect((await client.request({ method: 'GET', url, pool: 'p' })).body).toBe('127.0.0.1');
    vi.restoreAllMocks();
    resolveTo('127.0.0.2');
    expect((await client.request({ method: 'GET', url, pool: 'p' })).body).toBe('127.0.0.2');
    expect([one.connections, two.connections]).toEqual([1, 1]);
  });

  it('a host name that resolves to the same addresses in another order reuses the connection', async () => {
    const [one, two] = await targets();
    const client = createOutboundClient({ allowedTargets: ['127.0.0.0/8'] });
    const url = `http://svc.example.test:${portOf(one)}/`;
    const answer = (addresses: string[]) =>
      vi
        .spyOn(dns.promises, 'lookup')
        .mockImplementation((async () =>
          addresses.map((address) => ({ address, family: 4 }))) as unknown as typeof dns.promises.lookup);
    answer(['127.0.0.1', '127.0.0.2']);
    expect((await client.request({ method: 'GET', url, pool: 'p' })).body).toBe('127.0.0.1');
    vi.restoreAllMocks();
    answer(['127.0.0.2', '127.0.0.1']);
    expect((await client.request({ method: 'GET', url, pool: 'p' })).body).toBe('127.0.0.1');
    expect([one.connections, two.connections]).toEqual([1, 0]);
  });

  it('an open pooled connection does not let a call through whose host now resolves to a refused address', async () => {
    const [one] = await targets();
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const url = `http://svc.example.test:${portOf(one)}/`;
    resolveTo('127.0.0.1');
    await client.request({ method: 'GET', url, pool: 'p' });
    vi.restoreAllMocks();
    resolveTo('127.0.0.2');
    const error = await client.request({ method: 'GET', url, pool: 'p' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe('blocked');
    expect(one.requests).toBe(1);
  });
});
