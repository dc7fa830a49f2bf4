import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectorsCommand } from './remote.js';
import { UsageError } from './shared.js';

/** A server that answers as Plugboard does for one autotask connector, its first PUT with 412. */
async function fakeServer(puts: unknown[]): Promise<Server> {
  const connector = {
    id: 'c1',
    type: 'autotask',
    name: 'at',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    params: { url: 'https://a.example', email: 'e@example.com', password: 'pw' },
  };
  const types = [
    {
      id: 'autotask',
      params: [
        { name: 'url', secret: false },
        { name: 'email', secret: false },
        { name: 'password', secret: true },
        { name: 'integrationCode', secret: true },
      ],
    },
  ];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const send = (status: number, value: unknown, etag?: string) => {
        response.writeHead(status, { 'content-type': 'application/json', ...(etag ? { etag } : {}) });
        response.end(JSON.stringify(value));
      };
      if (request.url === '/api/connector-types') return send(200, types);
      if (request.method === 'GET') return send(200, connector, `"v${puts.length}"`);
      puts.push(JSON.parse(body));
      if (puts.length === 1)
        return send(412, { status: 412, code: 'PRECONDITION_FAILED', message: 'changed' }, '"v1"');
      return send(200, { ...connector, ...(JSON.parse(body) as object) }, '"v2"');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('plugboard connectors update', () => {
  const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
  afterEach(() => {
    if (stdin) Object.defineProperty(process, 'stdin', stdin);
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('sends the secret it read from stdin again when it retries after a 412, not an empty one', async () => {
    const puts: unknown[] = [];
    const server = await fakeServer(puts);
    try {
      vi.stubEnv('PLUGBOARD_URL', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      vi.stubEnv('PLUGBOARD_TOKEN', 'pb_test');
      Object.defineProperty(process, 'stdin', { value: Readable.from([Buffer.from('code-from-stdin\n')]) });
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      expect(await connectorsCommand(['update', 'c1', '--param', 'integrationCode=-'])).toBe(0);
      expect(puts).toHaveLength(2);
      for (const put of puts)
        expect((put as { params: Record<string, string> }).params.integrationCode).toBe('code-from-stdin');
    } finally {
      server.close();
    }
  });

  it('sends --name "" to the server (which refuses it) instead of keeping the old name and saying Updated', async () => {
    const puts: unknown[] = [];
    const server = await fakeServer(puts);
    try {
      vi.stubEnv('PLUGBOARD_URL', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      vi.stubEnv('PLUGBOARD_TOKEN', 'pb_test');
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      await connectorsCommand(['update', 'c1', '--name', '']);
      expect(puts.length).toBeGreaterThan(0);
      for (const put of puts) expect((put as { name: string }).name).toBe('');
    } finally {
      server.close();
    }
  });
});

describe('plugboard connectors: bad arguments', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('refuses a PLUGBOARD_URL that is not an http(s) URL, naming it, before sending anything', async () => {
    vi.stubEnv('PLUGBOARD_TOKEN', 'pb_test');
    for (const url of ['notaurl', '127.0.0.1:8080', 'ftp://127.0.0.1']) {
      vi.stubEnv('PLUGBOARD_URL', url);
      await expect(connectorsCommand(['list'])).rejects.toThrow(
        new UsageError(
          `PLUGBOARD_URL is not an http(s) URL (got ${JSON.stringify(url)}); give the server's address, e.g. http://127.0.0.1:8080`,
        ),
      );
    }
  });

  it('refuses connectors update with nothing to change, before sending anything', async () => {
    const puts: unknown[] = [];
    const server = await fakeServer(puts);
    try {
      vi.stubEnv('PLUGBOARD_URL', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      vi.stubEnv('PLUGBOARD_TOKEN', 'pb_test');
      await expect(connectorsCommand(['update', 'c1'])).rejects.toThrow(/there is nothing to change/);
      expect(puts).toHaveLength(0);
    } finally {
      server.close();
    }
  });

  it('does not repeat a password given in a PLUGBOARD_URL it refuses', async () => {
    vi.stubEnv('PLUGBOARD_TOKEN', 'pb_test');
    vi.stubEnv('PLUGBOARD_URL', 'admin:hunter2@127.0.0.1:8080');
    const refused = connectorsCommand(['list']);
    await expect(refused).rejects.toThrow('(got "admin:***@127.0.0.1:8080")');
    await expect(refused).rejects.not.toThrow(/hunter2/);
  });

  it('says which --param NAME=@FILE it cannot read, as a usage error', async () => {
    const puts: unknown[] = [];
    const server = await fakeServer(puts);
    try {
      vi.stubEnv('PLUGBOARD_URL', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      vi.stubEnv('PLUGBOARD_TOKEN', 'pb_test');
      const missing = '/nonexistent/plugboard-param';
      const refused = connectorsCommand(['update', 'c1', '--param', `password=@${missing}`]);
      await expect(refused).rejects.toBeInstanceOf(UsageError);
      await expect(refused).rejects.toThrow(
        `--param password=@${missing}: cannot read ${missing} (there is no such file)`,
      );
      expect(puts).toHaveLength(0);
    } finally {
      server.close();
    }
  });
});
