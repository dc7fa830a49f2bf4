import dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOutboundClient } from './client.js';
import { OutboundError } from './types.js';

// One exchange on the wire (exchange.ts): which names and addresses it looks up and connects to,
// what TLS is told, how an answer cut short or declared too large ends, and what a refusal says.
// Everything connects to 127.0.0.1; other addresses only ever come from a faked DNS answer that
// must be refused before connecting.

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function close(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

type Answer = { address: string; family: number }[];
function fakeDns(answer: Answer) {
  return vi
    .spyOn(dns.promises, 'lookup')
    .mockImplementation((async () => answer) as unknown as typeof dns.promises.lookup);
}

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof OutboundError) return error;
  throw new Error(`expected an OutboundError, got ${String(error)}`);
}

let server: http.Server;
let port = 0;
let base = '';
/** The server's sockets that are still open. */
const open = new Set<net.Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/declared-huge') {
      // Declares more than the limit, then sends nothing: only the declaration can end it early.
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      res.flushHeaders();
      return;
    }
    if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only a part');
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    if (req.url === '/hang-up') {
      req.socket.destroy();
      return;
    }
    if (req.url === '/stall') {
      // Part of the body, then nothing until long after any deadline here.
      res.writeHead(200, { 'content-length': '100' });
      res.write('only a part');
      setTimeout(() => req.socket.destroy(), 5_000).unref();
      return;
    }
    res.end('ok');
  });
  server.on('connection', (socket: net.Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  port = await listen(server);
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => close(server));
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('what is looked up and connected to', () => {
  it('an IPv4 address in the URL is connected to as it is, never looked up', async () => {
    const lookup = vi.spyOn(dns.promises, 'lookup');
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    expect((await client.request({ method: 'GET', url: `${base}/` })).body).toBe('ok');
    expect(lookup).not.toHaveBeenCalled();
  });

  it('an answer of a family other than IPv4 or IPv6 is left out; the others are used', async () => {
    fakeDns([
      { address: '127.0.0.1', family: 0 },
      { address: '127.0.0.1', family: 4 },
    ]);
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const url = `http://svc.example.test:${port}/`;
    expect((await client.request({ method: 'GET', url })).body).toBe('ok');
  });

  it('an answer with nothing usable is dns, naming the host only', async () => {
    fakeDns([{ address: '127.0.0.1', family: 0 }]);
    const error = await failure(
      createOutboundClient().request({ method: 'GET', url: 'http://empty.example.test/x' }),
    );
    expect(error).toMatchObject({
      kind: 'dns',
      message: 'could not resolve empty.example.test (no address)',
    });
  });

  it('connects to the first checked address when Node does not try several (autoSelectFamily off)', async () => {
    fakeDns([{ address: '127.0.0.1', family: 4 }]);
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const before = net.getDefaultAutoSelectFamily();
    net.setDefaultAutoSelectFamily(false);
    try {
      expect((await client.request({ method: 'GET', url: `http://svc.example.test:${port}/` })).body).toBe(
        'ok',
      );
    } finally {
      net.setDefaultAutoSelectFamily(before);
    }
  });

  it('a resolution leaves no timer behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    fakeDns([{ address: '10.0.0.1', family: 4 }]);
    await failure(createOutboundClient().request({ method: 'GET', url: 'http://svc.example.test/' }));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a connection of no pool is closed once its answer is read', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    await client.request({ method: 'GET', url: `${base}/` });
    await vi.waitFor(() => expect(open.size).toBe(0), { timeout: 1000 });
  });
});

describe('what a refusal says', () => {
  it('an address in the URL: the address and its kind', async () => {
    const error = await failure(createOutboundClient().request({ method: 'GET', url: 'http://10.0.0.1/' }));
    expect(error).toMatchObject({
      kind: 'blocked',
      message: 'refused: 10.0.0.1 is not a public address (private)',
    });
  });

  it('a name: the name and the kind of address, not the address', async () => {
    fakeDns([{ address: '127.0.0.1', family: 4 }]);
    const error = await failure(
      createOutboundClient().request({ method: 'GET', url: 'http://svc.example.test/' }),
    );
    expect(error).toMatchObject({
      kind: 'blocked',
      message: 'refused: svc.example.test resolves to an address that is not public (loopback)',
    });
  });

  it('a public address that came with another family than its own is refused all the same', async () => {
    fakeDns([{ address: '93.184.215.14', family: 6 }]);
    const error = await failure(
      createOutboundClient().request({ method: 'GET', url: 'http://odd.example.test/' }),
    );
    expect(error).toMatchObject({
      kind: 'blocked',
      message: 'refused: odd.example.test resolves to an address that is not public (refused)',
    });
  });
});

// Each over a connection of its own and over a pooled one (undici's client, exchange.ts): the same outcomes.
describe.each([
  ['alone', undefined],
  ['pooled', 'p'],
])('how an answer ends (%s)', (_how, pool) => {
  const client = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 3000 });
  const get = (path: string) =>
    client.request({ method: 'GET', url: `${base}${path}`, ...(pool === undefined ? {} : { pool }) });

  it('a declared length over the limit is too_large at once, without waiting for the body', async () => {
    const started = Date.now();
    const error = await failure(get('/declared-huge'));
    expect(error.kind).toBe('too_large');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('an answer cut short is connect: the connection closed without a complete answer', async () => {
    const error = await failure(get('/cut'));
    expect(error).toMatchObject({
      kind: 'connect',
      message: `could not talk to 127.0.0.1:${port}: connection closed without a complete answer (ECONNRESET)`,
    });
  });

  it('a hang-up before any answer is connect: the host hung up', async () => {
    const error = await failure(get('/hang-up'));
    expect(error).toMatchObject({ kind: 'connect', message: `127.0.0.1:${port} hung up without answering` });
  });

  it('a refused connection is connect, naming the host and the code', async () => {
    const closed = net.createServer();
    const closedPort = await listen(closed);
    await close(closed);
    const error = await failure(
      client.request({
        method: 'GET',
        url: `http://127.0.0.1:${closedPort}/`,
        ...(pool === undefined ? {} : { pool }),
      }),
    );
    expect(error).toMatchObject({
      kind: 'connect',
      message: `could not talk to 127.0.0.1:${closedPort}: connection refused (ECONNREFUSED)`,
    });
  });

  it('a deadline already past is a timeout, and nothing is sent', async () => {
    const error = await failure(
      client.request({
        method: 'GET',
        url: `${base}/x`,
        deadline: Date.now() - 1,
        ...(pool === undefined ? {} : { pool }),
      }),
    );
    expect(error.kind).toBe('timeout');
  });

  it('an answer that stalls mid-body is a timeout at the deadline, and the next call is answered', async () => {
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const error = await failure(
        client.request({
          method: 'GET',
          url: `${base}/stall`,
          deadline: Date.now() + 300,
          ...(pool === undefined ? {} : { pool }),
        }),
      );
      expect(error).toMatchObject({
        kind: 'timeout',
        message: `no complete answer from 127.0.0.1:${port} before the caller's deadline`,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    // A pooled connection given up at a deadline is not handed to the next call half-read.
    const answer = await client.request({
      method: 'GET',
      url: `${base}/`,
      ...(pool === undefined ? {} : { pool }),
    });
    expect(answer).toMatchObject({ status: 200, body: 'ok' });
  });
});

describe('TLS', () => {
  // A TLS server with no certificate: it sees the ClientHello (and its SNI), then fails the handshake.
  const seen = { names: [] as string[], connections: 0 };
  const tlsServer = tls.createServer({
    SNICallback: (name, callback) => {
      seen.names.push(name);
      callback(new Error('no certificate here'));
    },
  });
  tlsServer.on('connection', () => seen.connections++);
  tlsServer.on('tlsClientError', () => undefined);
  let tlsPort = 0;

  beforeAll(async () => {
    tlsPort = await listen(tlsServer);
  });
  afterAll(() => close(tlsServer));
  afterEach(() => {
    seen.names.length = 0;
    seen.connections = 0;
  });

  it.each([undefined, 'p'])(
    'an https URL with a name speaks TLS, with the name as SNI, without its trailing dot (pool %s)',
    async (pool) => {
      fakeDns([{ address: '127.0.0.1', family: 4 }]);
      const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
      const url = `https://Svc.Example.Test.:${tlsPort}/`;
      const error = await failure(client.request({ method: 'GET', url, ...(pool ? { pool } : {}) }));
      // How the failed handshake reads is OpenSSL's; never more than the host and a code.
      expect(error.message).toMatch(/svc\.example\.test\.:\d+/);
      expect(seen).toEqual({ names: ['svc.example.test'], connections: 1 });
    },
  );

  it.each([undefined, 'p'])('an https URL with an address speaks TLS without SNI (pool %s)', async (pool) => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    // How the failed handshake reads (its code) is OpenSSL's; classify is pinned in exchange.test.ts.
    await failure(
      client.request({ method: 'GET', url: `https://127.0.0.1:${tlsPort}/`, ...(pool ? { pool } : {}) }),
    );
    expect(seen).toEqual({ names: [], connections: 1 });
  });
});

describe('the request head on the wire', () => {
  /** The first request head a raw server receives, answered with an empty 200. */
  async function headOf(send: (base: string) => Promise<unknown>): Promise<string> {
    let head = '';
    const raw = net.createServer((socket) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end < 0 || head !== '') return;
        head = text.slice(0, end);
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      });
    });
    const rawPort = await listen(raw);
    try {
      await send(`http://127.0.0.1:${rawPort}`);
    } finally {
      await close(raw);
    }
    return head.replace(/:\d+\r\n/, ':P\r\n');
  }

  /** The same POST for both: a header named twice in two cases, a body with a two-byte character. */
  const hookAt = (url: string) => ({
    method: 'POST' as const,
    url: `${url}/hook?q=1`,
    headers: { 'content-type': 'application/json', accept: 'a', 'Idempotency-Key': 'dlv_1', Accept: 'b' },
    body: '{"é":1}',
    userAgent: 'Plugboard/9.9.9',
  });

  // A pooled call (undici's HTTP/1.1 client) puts Host first, as RFC 9110 (7.2) asks of a user
  // agent, then its Connection, the headers as given, then Content-Length; its own header names
  // in lower case (names are case-insensitive). A call of no pool (node:http) keeps Node's order.
  it('pooled: sends Host and Connection, the headers in the order given, User-Agent, then Content-Length', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const head = await headOf((url) => client.request({ ...hookAt(url), pool: 'p' }));
    expect(head.split('\r\n')).toEqual([
      'POST /hook?q=1 HTTP/1.1',
      'host: 127.0.0.1:P',
      'connection: keep-alive',
      'content-type: application/json',
      // Named twice in two cases: once, where the first stood, as the last named it.
      'Accept: b',
      'Idempotency-Key: dlv_1',
      'User-Agent: Plugboard/9.9.9',
      'content-length: 8',
    ]);
  });

  it('alone: sends the headers in the order given, then User-Agent, Content-Length, Host and Connection', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const head = await headOf((url) => client.request(hookAt(url)));
    expect(head.split('\r\n')).toEqual([
      'POST /hook?q=1 HTTP/1.1',
      'content-type: application/json',
      'Accept: b',
      'Idempotency-Key: dlv_1',
      'User-Agent: Plugboard/9.9.9',
      'Content-Length: 8',
      'Host: 127.0.0.1:P',
      'Connection: close',
    ]);
  });

  it('sends a POST without a body with Content-Length: 0, and a GET with none', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    expect(await headOf((url) => client.request({ method: 'POST', url: `${url}/x` }))).toBe(
      'POST /x HTTP/1.1\r\nUser-Agent: Plugboard-Check/1\r\nHost: 127.0.0.1:P\r\nConnection: close\r\nContent-Length: 0',
    );
    expect(await headOf((url) => client.request({ method: 'GET', url: `${url}/x` }))).toBe(
      'GET /x HTTP/1.1\r\nUser-Agent: Plugboard-Check/1\r\nHost: 127.0.0.1:P\r\nConnection: close',
    );
  });
});
