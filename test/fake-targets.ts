import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Local stand-ins for the systems connectors point at, answering on 127.0.0.1 with the shapes
 * their public API documentation shows: for good credentials, bad ones, a locked account, and
 * any other path (404, as a wrong base URL gets). Credentials that are "good" here:
 */
export const GOOD = {
  user: 'agent@example.com',
  password: 'good-secret',
  token: 'good-token',
  lockedUser: 'locked@example.com',
} as const;

export interface FakeTargets {
  /** Base URL of the well-behaved fake, e.g. http://127.0.0.1:4321 */
  readonly url: string;
  /** A server that accepts connections and never answers. */
  readonly slowUrl: string;
  /** A server that drops every connection without answering. */
  readonly dropUrl: string;
  /** Requests the well-behaved fake received, as `METHOD path`. */
  readonly seen: string[];
  close(): Promise<void>;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/html' : 'application/json',
    ...headers,
  });
  res.end(text);
}

function basic(req: IncomingMessage): { user: string; password: string } | undefined {
  const match = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  return { user: decoded.slice(0, at), password: decoded.slice(at + 1) };
}

const notFound = '<html><body><h1>404 Not Found</h1></body></html>';

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fake');
  const path = url.pathname;
  const creds = basic(req);
  const goodBasic = creds?.user === GOOD.user && creds.password === GOOD.password;

  // Jira Cloud: GET /rest/api/3/myself
  if (path === '/jira/rest/api/3/myself') {
    if (creds?.user === GOOD.lockedUser) {
      return send(
        res,
        403,
        { errorMessages: ['Basic authentication failed: CAPTCHA required'] },
        {
          'x-seraph-loginreason': 'AUTHENTICATION_DENIED',
          'x-authentication-denied-reason':
            'CAPTCHA_CHALLENGE; login-url=https://example.atlassian.net/login.jsp',
        },
      );
    }
    if (goodBasic)
      return send(res, 200, { accountId: '5b10a2844c20165700ede21g', emailAddress: GOOD.user, active: true });
    return send(res, 401, {
      errorMessages: ['Client must be authenticated to access this resource.'],
      errors: {},
    });
  }
  // ServiceNow: GET /api/now/table/sys_user?sysparm_limit=1
  if (path === '/servicenow/api/now/table/sys_user') {
    if (goodBasic)
      return send(res, 200, { result: [{ sys_id: '6816f79cc0a8016401c5a33be04be441', user_name: 'admin' }] });
    return send(res, 401, {
      error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
      status: 'failure',
    });
  }
  // Zendesk: GET /api/v2/users/me.json with email/token:apiKey
  if (path === '/zendesk/api/v2/users/me.json') {
    if (!creds) return send(res, 200, { user: { id: null, name: 'Anonymous user', role: 'end-user' } });
    if (creds.user === `${GOOD.user}/token` && creds.password === GOOD.token) {
      return send(res, 200, { user: { id: 35436, name: 'Johnny Agent', role: 'agent' } });
    }
    return send(res, 401, { error: "Couldn't authenticate you" });
  }
  // GitHub: GET /user with a Bearer token
  if (path === '/github/user') {
    if (req.headers.authorization === `Bearer ${GOOD.token}`)
      return send(res, 200, { login: 'octocat', id: 1 });
    // GitHub does echo nothing of the token; this fake echoes it to prove that messages are scrubbed.
    return send(res, 401, {
      message: `Bad credentials (${req.headers.authorization ?? ''})`,
      documentation_url: 'https://docs.github.com/rest',
    });
  }
  // TOPdesk: GET /tas/api/version, then an authenticated call
  if (path === '/topdesk/tas/api/version') return send(res, 200, { version: '3.7.0' });
  if (path === '/topdesk/tas/api/incidents') {
    if (goodBasic) return send(res, 200, []);
    return send(res, 401, { message: 'The provided credentials are not correct.' });
  }
  // Zammad: GET /api/v1/users/me with Token token=…
  if (path === '/zammad/api/v1/users/me') {
    if (req.headers.authorization === `Token token=${GOOD.token}`)
      return send(res, 200, { id: 3, login: GOOD.user });
    return send(res, 401, { error: 'Invalid token!', error_human: 'Invalid token!' });
  }
  // Zabbix: JSON-RPC on /api_jsonrpc.php
  if (path === '/zabbix/api_jsonrpc.php' && req.method === 'POST') {
    const call = JSON.parse(await readBody(req)) as { method: string; id: number };
    if (call.method === 'apiinfo.version')
      return send(res, 200, { jsonrpc: '2.0', result: '7.0.0', id: call.id });
    if (req.headers.authorization === `Bearer ${GOOD.token}`) {
      return send(res, 200, { jsonrpc: '2.0', result: [{ hostid: '10084' }], id: call.id });
    }
    return send(res, 200, {
      jsonrpc: '2.0',
      error: { code: -32602, message: 'Invalid params.', data: 'Not authorized.' },
      id: call.id,
    });
  }
  // Autotask: GET /atservicesrest/v1.0/zoneInformation?user=…
  if (path === '/autotask/atservicesrest/v1.0/zoneInformation') {
    if (url.searchParams.get('user') === GOOD.user) {
      return send(res, 200, {
        zoneName: 'America East',
        url: 'https://webservices2.autotask.net/atservicesrest/',
        webUrl: 'https://ww2.autotask.net/',
        ci: 0,
      });
    }
    return send(res, 404, { errors: ['Zone information could not be determined'] });
  }
  // Discord: GET on the webhook URL answers with the webhook object
  const discord = /^\/discord\/api\/webhooks\/(\d+)\/([\w-]+)$/.exec(path);
  if (discord) {
    if (discord[2] === GOOD.token) {
      return send(res, 200, { type: 1, id: discord[1], name: 'alerts', channel_id: '199737254929760256' });
    }
    return send(res, 401, { message: 'Invalid Webhook Token', code: 50027 });
  }
  return send(res, 404, notFound);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startFakeTargets(): Promise<FakeTargets> {
  const seen: string[] = [];
  const good = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    answer(req, res).catch(() => send(res, 500, { message: 'fake failed' }));
  });
  const slow = createServer(() => {
    // Never answers; the client's timeout must end the call.
  });
  const drop = createServer((req) => req.socket.destroy());
  const [url, slowUrl, dropUrl] = await Promise.all([listen(good), listen(slow), listen(drop)]);
  return {
    url,
    slowUrl,
    dropUrl,
    seen,
    async close() {
      for (const server of [good, slow, drop]) server.closeAllConnections();
      await Promise.all([good, slow, drop].map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}
