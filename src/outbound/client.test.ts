import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOutboundClient } from './client.js';
import { OutboundError, type OutboundFailure } from './types.js';

// All traffic in this file goes to 127.0.0.0/8 on this machine. Addresses outside it (10.0.0.1,
// 169.254.169.254, …) are only ever used where the client must refuse them before connecting.
// (Over 300 lines: the client's one contract, what it refuses, follows, sends and resolves, against
// the test servers below that all four parts share; a helper module under src/ would be compiled
// into dist/ with its vitest import.)

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** A TCP listener that only counts the connections it sees. */
async function victimListener(host: string) {
  const state = { connections: 0, port: 0, server: net.createServer() };
  state.server.on('connection', (socket) => {
    state.connections++;
    socket.destroy();
  });
  state.port = await listen(state.server, host);
  return state;
}

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OutboundError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

async function expectFailure(promise: Promise<unknown>, kind: OutboundFailure): Promise<OutboundError> {
  const error = await failure(promise);
  expect(error.kind, error.message).toBe(kind);
  return error;
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** An HTTP server that records what arrives and routes by path. */
async function testServer(host: string, routes: Record<string, Handler>) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const route = routes[path];
      if (route) route(req, res, body);
      else res.writeHead(404).end('no such route');
    });
  });
  const port = await listen(server, host);
  return { server, port, seen, base: `http://${host}:${port}` };
}

function body(size: number, declareLength: boolean): Handler {
  return (_req, res) => {
    const payload = Buffer.alloc(size, 'a');
    res.writeHead(200, declareLength ? { 'content-length': String(size) } : {});
    // Several writes so that the chunked case arrives in pieces.
    const piece = 64 * 1024;
    for (let offset = 0; offset < size; offset += piece) res.write(payload.subarray(offset, offset + piece));
    res.end();
  };
}

const MiB = 1024 * 1024;

describe('refusals with the default options (no allowlist)', () => {
  const client = createOutboundClient();
  let victim: Awaited<ReturnType<typeof victimListener>>;

  beforeAll(async () => {
    victim = await victimListener('127.0.0.1');
  });
  afterAll(() => close(victim.server));
  afterEach(() => {
    expect(victim.connections).toBe(0);
  });

  /** Names /etc/hosts maps to a loopback address (e.g. `localhost`, the machine's own name). */
  function loopbackNamesFromEtcHosts(): string[] {
    let text = '';
    try {
      text = readFileSync('/etc/hosts', 'utf8');
    } catch {
      return [];
    }
    const names = new Set<string>();
    for (const line of text.split('\n')) {
      const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (address && (address.startsWith('127.') || address === '::1')) {
        for (const alias of aliases) if (alias && alias !== 'localhost') names.add(alias);
      }
    }
    return [...names].slice(0, 5);
  }

  const P = 'PORT';
  const bypasses: string[] = [
    `http://127.0.0.1:${P}/`,
    `https://127.0.0.1:${P}/`,
    `http://localhost:${P}/`,
    `http://LOCALHOST:${P}/`,
    `http://localhost.:${P}/`,
    `http://LocalHost.:${P}/path?q=1`,
    `http://anything.localhost:${P}/`,
    `http://127.1:${P}/`,
    `http://127.0.1:${P}/`,
    `http://2130706433:${P}/`,
    `http://0x7f000001:${P}/`,
    `http://0x7f.1:${P}/`,
    `http://0177.0.0.1:${P}/`,
    `http://017700000001:${P}/`,
    `http://127.000.000.001:${P}/`,
    `http://127.0.0.1.:${P}/`,
    `http://127.0.0.1%2e:${P}/`,
    `http://%31%32%37.0.0.1:${P}/`,
    `http://127\u30020\u30020\u30021:${P}/`,
    `http://\u2460\u2461\u2466.0.0.1:${P}/`,
    `http://127.0.0.1:${P}\\@example.com/`,
    `http://[::1]:${P}/`,
    `http://[0:0:0:0:0:0:0:1]:${P}/`,
    `http://[::ffff:127.0.0.1]:${P}/`,
    `http://[::ffff:7f00:1]:${P}/`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${P}/`,
    `http://[::127.0.0.1]:${P}/`,
    `http://[::ffff:0:127.0.0.1]:${P}/`,
    `http://[64:ff9b::127.0.0.1]:${P}/`,
    `http://[2002:7f00:1::]:${P}/`,
    `http://0.0.0.0:${P}/`,
    `http://0:${P}/`,
    `http://[::]:${P}/`,
    `http://127.255.255.254:${P}/`,
    `http://127.0.0.2:${P}/`,
    ...loopbackNamesFromEtcHosts().map((name) => `http://${name}:${P}/`),
  ];

  it('tries at least 22 bypasses', () => {
    expect(bypasses.length).toBeGreaterThanOrEqual(22);
  });

  it.each(bypasses)('refuses %s as blocked without connecting', async (template) => {
    const url = template.replace(P, String(victim.port));
    await expectFailure(client.request({ method: 'GET', url }), 'blocked');
    await expectFailure(client.request({ method: 'POST', url, body: 'x' }), 'blocked');
  });

  it.each([['0x7g.0.0.1'], ['256.0.0.1'], ['127.0.0.1.1.1'], ['[::1'], ['[fe80::1%25lo]']])(
    'refuses the malformed host %s without connecting',
    async (host) => {
      await failure(client.request({ method: 'GET', url: `http://${host}:${victim.port}/` }));
    },
  );

  it.each([
    ['http://169.254.169.254/latest/meta-data/'],
    ['http://169.254.169.254:80/computeMetadata/v1/'],
    ['http://2852039166/'],
    ['http://0xa9fea9fe/'],
    ['http://0xa9.0xfe.0xa9.0xfe/'],
    ['http://0251.0376.0251.0376/'],
    ['http://169.254.43518/'],
    ['http://[::ffff:169.254.169.254]/'],
    ['http://[::ffff:a9fe:a9fe]/'],
    ['http://[64:ff9b::a9fe:a9fe]/'],
    ['http://[fd00:ec2::254]/latest/meta-data/'],
    ['https://169.254.169.254/'],
    ['http://169.254.170.2/v2/credentials'],
  ])('refuses the metadata spelling %s at once', async (url) => {
    const started = Date.now();
    const error = await expectFailure(client.request({ method: 'GET', url }), 'blocked');
    expect(Date.now() - started).toBeLessThan(200);
    expect(error.message).not.toMatch(/meta-data|computeMetadata|credentials/);
  });

  it.each([
    ['http://10.0.0.1/'],
    ['http://192.168.1.1/'],
    ['http://172.16.0.1/'],
    ['http://172.31.255.255/'],
    ['http://100.64.0.1/'],
    ['http://198.18.0.1/'],
    ['http://192.0.2.1/'],
    ['http://224.0.0.1/'],
    ['http://255.255.255.255/'],
    ['http://[fc00::1]/'],
    ['http://[fe80::1]/'],
    ['http://[ff02::1]/'],
    ['http://[2001:db8::1]/'],
  ])('refuses the private or reserved %s at once', async (url) => {
    const started = Date.now();
    await expectFailure(client.request({ method: 'GET', url }), 'blocked');
    expect(Date.now() - started).toBeLessThan(200);
  });

  it.each([
    ['file:///etc/passwd'],
    ['ftp://127.0.0.1:PORT/'],
    ['gopher://127.0.0.1:PORT/_GET%20/'],
    ['ws://127.0.0.1:PORT/'],
    ['data:text/plain,hello'],
    ['javascript:alert(1)'],
    ['dict://127.0.0.1:PORT/'],
    ['//127.0.0.1:PORT/'],
    ['/relative/path'],
    ['not a url'],
  ])('refuses %s as blocked', async (template) => {
    const url = template.replace(P, String(victim.port));
    await expectFailure(client.request({ method: 'GET', url }), 'blocked');
  });

  it('refuses a URL with userinfo, without repeating it', async () => {
    const url = `http://admin:hunter2@127.0.0.1:${victim.port}/`;
    const error = await expectFailure(client.request({ method: 'GET', url }), 'blocked');
    expect(error.message).not.toMatch(/admin|hunter2/);
  });

  it('saw no connection at all', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(victim.connections).toBe(0);
  });
});

describe('redirects away from an allowed server', () => {
  let victim: Awaited<ReturnType<typeof victimListener>>;
  let sameHostVictim: Awaited<ReturnType<typeof victimListener>>;
  let allowed: Awaited<ReturnType<typeof testServer>>;
  const to =
    (location: () => string, status = 302): Handler =>
    (_req, res) =>
      res.writeHead(status, { location: location() }).end('moved');

  beforeAll(async () => {
    victim = await victimListener('127.0.0.1');
    sameHostVictim = await victimListener('127.0.0.2');
    allowed = await testServer('127.0.0.2', {
      '/ip': to(() => `http://127.0.0.1:${victim.port}/`),
      '/name': to(() => `http://localhost:${victim.port}/`),
      '/mapped': to(() => `http://[::ffff:127.0.0.1]:${victim.port}/`),
      '/decimal': to(() => `http://2130706433:${victim.port}/`),
      '/307': to(() => `http://127.0.0.1:${victim.port}/`, 307),
      '/308': to(() => `http://localhost:${victim.port}/`, 308),
      '/301': to(() => `http://127.0.0.1:${victim.port}/`, 301),
      '/303': to(() => `http://127.0.0.1:${victim.port}/`, 303),
      '/other-port': to(() => `http://127.0.0.2:${sameHostVictim.port}/`),
      '/https': to(() => `https://127.0.0.2:${allowed.port}/`),
      '/metadata': to(() => 'http://169.254.169.254/latest/meta-data/'),
      '/file': to(() => 'file:///etc/passwd'),
      '/gopher': to(() => `gopher://127.0.0.1:${victim.port}/_x`),
      '/protocol-relative': to(() => `//127.0.0.1:${victim.port}/`),
      '/userinfo-elsewhere': to(() => `http://127.0.0.2@127.0.0.1:${victim.port}/`),
      '/bad-location': to(() => 'http://[::1'),
    });
  });
  afterAll(() => Promise.all([close(victim.server), close(sameHostVictim.server), close(allowed.server)]));
  afterEach(() => {
    expect(victim.connections).toBe(0);
    expect(sameHostVictim.connections).toBe(0);
  });

  it.each([
    ['/ip', 302],
    ['/name', 302],
    ['/mapped', 302],
    ['/decimal', 302],
    ['/307', 307],
    ['/308', 308],
    ['/301', 301],
    ['/303', 303],
    ['/other-port', 302],
    ['/https', 302],
    ['/metadata', 302],
    ['/file', 302],
    ['/gopher', 302],
    ['/protocol-relative', 302],
    ['/userinfo-elsewhere', 302],
    ['/bad-location', 302],
  ])('does not follow %s: returns the %i as is', async (path, status) => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.2'] });
    for (const method of ['GET', 'POST'] as const) {
      const response = await client.request({ method, url: `${allowed.base}${path}`, body: 'b' });
      expect(response.status).toBe(status);
      expect(response.headers.location).toBeDefined();
      expect(response.body).toBe('moved');
      expect(response.url).toBe(`${allowed.base}${path}`);
    }
  });

  it('is refused outright when the allowed server is not allowed', async () => {
    const client = createOutboundClient();
    await expectFailure(client.request({ method: 'GET', url: `${allowed.base}/ip` }), 'blocked');
  });
});

describe('requests to allowed targets', () => {
  let server: Awaited<ReturnType<typeof testServer>>;
  const allowLoopbackOne = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 2000 });

  beforeAll(async () => {
    server = await testServer('127.0.0.1', {
      '/echo': (req, res, received) => {
        res.setHeader('x-multi', ['one', 'two']);
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, body: received, headers: req.headers }));
      },
      '/r3': (_req, res) => res.writeHead(302, { location: '/r2' }).end(),
      '/r2': (_req, res) => res.writeHead(301, { location: `${server.base}/r1?x=1` }).end(),
      '/r1': (_req, res) => res.writeHead(302, { location: 'final' }).end(),
      '/final': (_req, res) => res.end('landed'),
      '/loop': (_req, res) => res.writeHead(302, { location: '/loop' }).end(),
      '/see-other': (_req, res) => res.writeHead(303, { location: '/echo' }).end(),
      '/temporary': (_req, res) => res.writeHead(307, { location: '/echo' }).end(),
      '/permanent': (_req, res) => res.writeHead(308, { location: '/echo' }).end(),
      '/found': (_req, res) => res.writeHead(302, { location: '/echo' }).end(),
      '/to-localhost': (_req, res) =>
        res.writeHead(302, { location: `http://localhost:${server.port}/final` }).end(),
      '/exact': body(MiB, true),
      '/exact-chunked': body(MiB, false),
      '/over': body(MiB + 1, true),
      '/over-chunked': body(MiB + 1, false),
      '/huge': body(8 * MiB, false),
      '/utf8': (_req, res) => res.end('grüße 👋'),
      '/hang': () => undefined,
      '/slow-body': (_req, res) => {
        res.writeHead(200, { 'content-length': '10' });
        res.write('12345');
      },
      '/slow-redirect': (_req, res) => {
        setTimeout(() => res.writeHead(302, { location: '/slow-redirect' }).end(), 150);
      },
      '/destroy': (req) => req.socket.destroy(),
      '/half': (req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only a part');
        setTimeout(() => req.socket.destroy(), 20);
      },
    });
  });
  afterAll(() => close(server.server));

  it('sends a GET with the given headers, its own User-Agent and nothing else', async () => {
    const response = await allowLoopbackOne.request({
      method: 'GET',
      url: `${server.base}/echo?q=1#fragment`,
      headers: {
        'X-Api-Key': 'k-123',
        Accept: 'application/json',
        'user-agent': 'spoof',
        Host: 'evil.example',
      },
    });
    expect(response.status).toBe(201);
    expect(response.url).toBe(`${server.base}/echo?q=1#fragment`);
    const echoed = JSON.parse(response.body) as { method: string; headers: Record<string, string> };
    expect(echoed.method).toBe('GET');
    expect(echoed.headers['x-api-key']).toBe('k-123');
    expect(echoed.headers.accept).toBe('application/json');
    expect(echoed.headers['user-agent']).toBe('Plugboard-Check/1');
    expect(echoed.headers.host).toBe(`127.0.0.1:${server.port}`);
    expect(echoed.headers.authorization).toBeUndefined();
    expect(server.seen.at(-1)?.url).toBe('/echo?q=1');
  });

  it("sends the request's own User-Agent when it names one (deliveries), whatever the headers say", async () => {
    const response = await allowLoopbackOne.request({
      method: 'GET',
      url: `${server.base}/echo`,
      headers: { 'User-Agent': 'spoof' },
      userAgent: 'Plugboard/9.9.9',
    });
    const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
    expect(echoed.headers['user-agent']).toBe('Plugboard/9.9.9');
  });

  it('returns lower-case headers with repeated ones joined', async () => {
    const response = await allowLoopbackOne.request({ method: 'GET', url: `${server.base}/echo` });
    expect(response.headers['x-multi']).toBe('one, two');
    expect(response.headers['set-cookie']).toBe('a=1, b=2');
    expect(response.headers['content-type']).toBe('application/json');
  });

  it('sends a POST body and headers intact', async () => {
    const payload = JSON.stringify({ summary: 'grüße 👋', n: 1 });
    const response = await allowLoopbackOne.request({
      method: 'POST',
      url: `${server.base}/echo`,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t0ken' },
      body: payload,
    });
    const echoed = JSON.parse(response.body) as {
      method: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(echoed.method).toBe('POST');
    expect(echoed.body).toBe(payload);
    expect(echoed.headers['content-type']).toBe('application/json');
    expect(echoed.headers.authorization).toBe('Bearer t0ken');
    expect(echoed.headers['content-length']).toBe(String(Buffer.byteLength(payload)));
  });

  it('decodes the body as UTF-8', async () => {
    const response = await allowLoopbackOne.request({ method: 'GET', url: `${server.base}/utf8` });
    expect(response.body).toBe('grüße 👋');
  });

  it('lets through a CIDR allowance', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.0/8'] });
    expect((await client.request({ method: 'GET', url: `${server.base}/final` })).body).toBe('landed');
    // Allowed by the CIDR (the embedded IPv4 is judged); whether ::ffff:… connects depends on the host.
    const outcome = await client
      .request({ method: 'GET', url: `http://[::ffff:127.0.0.1]:${server.port}/final` })
      .then(
        () => 'answered',
        (error: OutboundError) => error.kind,
      );
    expect(outcome).not.toBe('blocked');
  });

  it('lets through an allowed host name, keeping the name in the Host header', async () => {
    const client = createOutboundClient({ allowedTargets: ['LocalHost'] });
    for (const host of ['localhost', 'LOCALHOST', 'localhost.']) {
      const response = await client.request({ method: 'GET', url: `http://${host}:${server.port}/echo` });
      const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
      expect(echoed.headers.host).toBe(`${host.toLowerCase()}:${server.port}`);
    }
    // The name is allowed, not the address.
    await expectFailure(client.request({ method: 'GET', url: `${server.base}/echo` }), 'blocked');
  });

  it('lets an entry with a port through to that port only', async () => {
    const victim = await victimListener('127.0.0.1');
    try {
      for (const entry of [
        `127.0.0.1:${server.port}`,
        `127.0.0.0/8:${server.port}`,
        `localhost:${server.port}`,
      ]) {
        const client = createOutboundClient({ allowedTargets: [entry] });
        const host = entry.startsWith('localhost') ? 'localhost' : '127.0.0.1';
        const response = await client.request({ method: 'GET', url: `http://${host}:${server.port}/final` });
        expect(response.body, entry).toBe('landed');
        await expectFailure(
          client.request({ method: 'GET', url: `http://${host}:${victim.port}/` }),
          'blocked',
        );
      }
      expect(victim.connections).toBe(0);
    } finally {
      await close(victim.server);
    }
  });

  it('follows same-host redirects, counting them', async () => {
    const before = server.seen.length;
    const response = await allowLoopbackOne.request({ method: 'GET', url: `${server.base}/r3` });
    expect(response.status).toBe(200);
    expect(response.body).toBe('landed');
    expect(response.url).toBe(`${server.base}/final`);
    expect(server.seen.slice(before).map((s) => s.url)).toEqual(['/r3', '/r2', '/r1?x=1', '/final']);
  });

  it('stops after maxRedirects and returns the last 3xx', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'], maxRedirects: 2 });
    const before = server.seen.length;
    const response = await client.request({ method: 'GET', url: `${server.base}/loop` });
    expect(response.status).toBe(302);
    expect(server.seen.length - before).toBe(3);
    const none = createOutboundClient({ allowedTargets: ['127.0.0.1'], maxRedirects: 0 });
    expect((await none.request({ method: 'GET', url: `${server.base}/r1` })).status).toBe(302);
  });

  it('does not follow a redirect to another name for the same address', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1', 'localhost'] });
    const before = server.seen.length;
    const response = await client.request({ method: 'GET', url: `${server.base}/to-localhost` });
    expect(response.status).toBe(302);
    expect(server.seen.length - before).toBe(1);
  });

  it('turns a POST into a GET on 302/303 and keeps it on 307/308', async () => {
    const post = (path: string) =>
      allowLoopbackOne.request({
        method: 'POST',
        url: `${server.base}${path}`,
        headers: { 'content-type': 'text/plain' },
        body: 'payload',
      });
    for (const path of ['/see-other', '/found']) {
      const echoed = JSON.parse((await post(path)).body) as { method: string; body: string; headers: object };
      expect(echoed).toMatchObject({ method: 'GET', body: '' });
      expect(echoed.headers).not.toHaveProperty('content-type');
    }
    for (const path of ['/temporary', '/permanent']) {
      const echoed = JSON.parse((await post(path)).body) as { method: string; body: string };
      expect(echoed).toMatchObject({ method: 'POST', body: 'payload' });
    }
  });

  it('honours the 1 MiB default exactly at the boundary', async () => {
    for (const path of ['/exact', '/exact-chunked']) {
      const response = await allowLoopbackOne.request({ method: 'GET', url: `${server.base}${path}` });
      expect(response.body.length).toBe(MiB);
    }
    for (const path of ['/over', '/over-chunked']) {
      await expectFailure(
        allowLoopbackOne.request({ method: 'GET', url: `${server.base}${path}` }),
        'too_large',
      );
    }
  });

  it('stops reading a too large body at once', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'], maxBytes: 1000 });
    const error = await expectFailure(
      client.request({ method: 'GET', url: `${server.base}/huge` }),
      'too_large',
    );
    expect(error.message).toContain(`127.0.0.1:${server.port}`);
    expect((await client.request({ method: 'GET', url: `${server.base}/final` })).body).toBe('landed');
  });

  it('times out on a server that never answers', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 300 });
    const started = Date.now();
    const error = await expectFailure(
      client.request({ method: 'GET', url: `${server.base}/hang` }),
      'timeout',
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error.message).toContain('300 ms');
  });

  it('times out over the whole exchange, body and redirects included', async () => {
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 300, maxRedirects: 10 });
    for (const path of ['/slow-body', '/slow-redirect']) {
      const started = Date.now();
      await expectFailure(client.request({ method: 'GET', url: `${server.base}${path}` }), 'timeout');
      expect(Date.now() - started).toBeLessThan(1500);
    }
  });

  it('reports a destroyed socket or a cut body as connect', async () => {
    await expectFailure(
      allowLoopbackOne.request({ method: 'GET', url: `${server.base}/destroy` }),
      'connect',
    );
    await expectFailure(allowLoopbackOne.request({ method: 'GET', url: `${server.base}/half` }), 'connect');
  });

  it('reports a port with nothing listening as connect', async () => {
    const probe = net.createServer();
    const port = await listen(probe, '127.0.0.1');
    await close(probe);
    const error = await expectFailure(
      allowLoopbackOne.request({
        method: 'GET',
        url: `http://127.0.0.1:${port}/x?token=SECRET`,
        headers: { authorization: 'Bearer SECRET' },
      }),
      'connect',
    );
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toMatch(/refused/);
    expect(error.message).not.toContain('SECRET');
  });

  it('reports a hang-up before any answer as connect and garbage as protocol', async () => {
    const hangUp = net.createServer((socket) => socket.destroy());
    const garbage = net.createServer((socket) => socket.resume().end('SSH-2.0-OpenSSH\r\n\r\n'));
    const [hangUpPort, garbagePort] = [await listen(hangUp, '127.0.0.1'), await listen(garbage, '127.0.0.1')];
    try {
      await expectFailure(
        allowLoopbackOne.request({ method: 'GET', url: `http://127.0.0.1:${hangUpPort}/` }),
        'connect',
      );
      await expectFailure(
        allowLoopbackOne.request({ method: 'GET', url: `http://127.0.0.1:${garbagePort}/` }),
        'protocol',
      );
    } finally {
      await Promise.all([close(hangUp), close(garbage)]);
    }
  });

  it('reports TLS to a plain HTTP server as protocol', async () => {
    const url = `https://127.0.0.1:${server.port}/final`;
    await expectFailure(allowLoopbackOne.request({ method: 'GET', url }), 'protocol');
  });

  it('refuses invalid header values without echoing them', async () => {
    const error = await expectFailure(
      allowLoopbackOne.request({
        method: 'GET',
        url: `${server.base}/echo`,
        headers: { 'x-a': 'SECRET\r\nx: y' },
      }),
      'invalid_header',
    );
    expect(error.message).not.toContain('SECRET');
  });

  it('refuses userinfo even for an allowed host', async () => {
    const before = server.seen.length;
    const url = `http://user:SECRET@127.0.0.1:${server.port}/echo`;
    const error = await expectFailure(allowLoopbackOne.request({ method: 'GET', url }), 'blocked');
    expect(error.message).not.toContain('SECRET');
    expect(server.seen.length).toBe(before);
  });

  it('rejects bad options and allowlist entries', () => {
    expect(() => createOutboundClient({ allowedTargets: ['*.corp'] })).toThrow(/"\*\.corp"/);
    expect(() => createOutboundClient({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createOutboundClient({ maxBytes: -1 })).toThrow(/maxBytes/);
  });
});

describe('name resolution', () => {
  let server: Awaited<ReturnType<typeof testServer>>;

  type Answer = { address: string; family: number }[];
  function fakeDns(answer: (name: string) => Promise<Answer>) {
    return vi
      .spyOn(dns.promises, 'lookup')
      .mockImplementation(((name: string) => answer(name)) as unknown as typeof dns.promises.lookup);
  }

  beforeAll(async () => {
    server = await testServer('127.0.0.1', {
      '/echo': (req, res) => res.end(req.headers.host ?? ''),
      '/again': (_req, res) => res.writeHead(302, { location: '/echo' }).end(),
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(() => close(server.server));

  it('refuses a name when any address is refused', async () => {
    const lookup = fakeDns(async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ]);
    const client = createOutboundClient();
    const error = await expectFailure(
      client.request({ method: 'GET', url: 'http://mixed.example.test/' }),
      'blocked',
    );
    expect(error.message).toContain('mixed.example.test');
    // What the name resolved to inside our network is not told, only what kind of address it is.
    expect(error.message).toMatch(/not public \(private\)/);
    expect(error.message).not.toContain('10.0.0.5');
    expect(error.message).not.toContain('93.184.215.14');
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('refuses names resolving to metadata or IPv4-mapped loopback', async () => {
    const client = createOutboundClient();
    for (const answer of [
      [{ address: '169.254.169.254', family: 4 }],
      [{ address: '::ffff:127.0.0.1', family: 6 }],
      [{ address: 'fd00:ec2::254', family: 6 }],
    ]) {
      fakeDns(async () => answer);
      await expectFailure(client.request({ method: 'GET', url: 'http://rebind.example.test/' }), 'blocked');
    }
  });

  it('connects to the checked address only, resolving once, with the name as Host', async () => {
    let calls = 0;
    const lookup = fakeDns(async () => {
      calls++;
      // A second answer would point elsewhere (DNS rebinding); it must never be asked for.
      return calls === 1
        ? [{ address: '127.0.0.1', family: 4 }]
        : [{ address: '169.254.169.254', family: 4 }];
    });
    const client = createOutboundClient({ allowedTargets: ['127.0.0.1'] });
    const url = `http://svc.example.test:${server.port}/again`;
    const response = await client.request({ method: 'GET', url });
    expect(response.body).toBe(`svc.example.test:${server.port}`);
    expect(response.url).toBe(`http://svc.example.test:${server.port}/echo`);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup.mock.calls[0]?.[0]).toBe('svc.example.test');
  });

  it('lets an allowed host name through whatever it resolves to', async () => {
    fakeDns(async () => [{ address: '127.0.0.1', family: 4 }]);
    const client = createOutboundClient({ allowedTargets: ['Internal.Example.Test'] });
    const response = await client.request({
      method: 'GET',
      url: `http://internal.example.test:${server.port}/echo`,
    });
    expect(response.status).toBe(200);
    await expectFailure(
      client.request({ method: 'GET', url: `http://other.example.test:${server.port}/echo` }),
      'blocked',
    );
  });

  it('maps resolution failures to dns', async () => {
    const client = createOutboundClient();
    for (const code of ['ENOTFOUND', 'EAI_AGAIN']) {
      fakeDns(async () => {
        throw Object.assign(new Error(`getaddrinfo ${code} nowhere.example.test`), { code });
      });
      const error = await expectFailure(
        client.request({ method: 'GET', url: 'http://nowhere.example.test/?key=SECRET' }),
        'dns',
      );
      expect(error.message).toContain('nowhere.example.test');
      expect(error.message).not.toContain('SECRET');
    }
    fakeDns(async () => []);
    await expectFailure(client.request({ method: 'GET', url: 'http://empty.example.test/' }), 'dns');
  });

  it('times out a resolution that never ends', async () => {
    fakeDns(() => new Promise<never>(() => undefined));
    const client = createOutboundClient({ timeoutMs: 200 });
    const started = Date.now();
    await expectFailure(client.request({ method: 'GET', url: 'http://slow.example.test/' }), 'timeout');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('resolves localhost names as localhost', async () => {
    const lookup = fakeDns(async () => [{ address: '127.0.0.1', family: 4 }]);
    const client = createOutboundClient();
    await expectFailure(client.request({ method: 'GET', url: 'http://a.b.localhost./' }), 'blocked');
    expect(lookup.mock.calls[0]?.[0]).toBe('localhost');
  });
});
