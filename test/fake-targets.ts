import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isRecord } from '../src/is-record.js';

/**
 * Local stand-ins for the systems connectors point at, answering on 127.0.0.1 with the shapes
 * their public API documentation shows: for good credentials, bad ones, a locked (suspended,
 * blocked, expired, deleted) account, and any other path (404, as a wrong base URL gets).
 * Credentials that are "good" here:
 */
export const GOOD = {
  user: 'agent@example.com',
  password: 'good-secret',
  token: 'good-token',
  lockedUser: 'locked@example.com',
  lockedToken: 'locked-token',
  /** An Autotask user whose zone is another one than the URL's. */
  otherZoneUser: 'far@example.com',
  /** A GitHub token that meets an exhausted rate limit. */
  rateLimitedToken: 'rate-limited-token',
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

type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;
interface Request {
  readonly req: IncomingMessage;
  /** The path below the system's prefix, e.g. `/rest/api/3/myself`. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly basic: { user: string; password: string } | undefined;
  readonly goodBasic: boolean;
  readonly body: string;
  readonly origin: string;
  readonly send: Send;
}

function sender(res: ServerResponse): Send {
  return (status, body, headers = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/html' : 'application/json',
      ...headers,
    });
    res.end(text);
  };
}

function basic(req: IncomingMessage): { user: string; password: string } | undefined {
  const match = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  return { user: decoded.slice(0, at), password: decoded.slice(at + 1) };
}

/** The value of a request header whose name is spelled exactly `name` (case-sensitive, as Zabbix < 7.2.5). */
function exactHeader(req: IncomingMessage, name: string): string | undefined {
  const at = req.rawHeaders.indexOf(name);
  return at >= 0 && at % 2 === 0 ? req.rawHeaders[at + 1] : undefined;
}

const notFound = '<html><body><h1>404 Not Found</h1></body></html>';

/**
 * Zabbix JSON-RPC (api_jsonrpc.php) of one version: before 6.4 the token goes in `auth`; from 6.4 in
 * `Authorization: Bearer`, whose name 7.0 matches case-sensitively (ZBX-22952, fixed in 7.2.5); 7.2
 * refuses `auth`. apiinfo.version must be called without authentication.
 */
function zabbix(version: string) {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const atLeast = (a: number, b: number) => major > a || (major === a && minor >= b);
  return ({ req, path, body, send }: Request) => {
    if (path !== '/api_jsonrpc.php' || req.method !== 'POST') return send(404, notFound);
    const call: unknown = JSON.parse(body);
    if (!isRecord(call) || typeof call.method !== 'string') return send(200, { jsonrpc: '2.0', id: null });
    const answer = (result: object) => send(200, { jsonrpc: '2.0', ...result, id: call.id });
    const error = (code: number, message: string, data: string) => answer({ error: { code, message, data } });
    const invalid = (data: string) => error(-32602, 'Invalid params.', data);
    if (atLeast(7, 2) && 'auth' in call)
      return error(-32600, 'Invalid request.', 'Invalid parameter "/": unexpected parameter "auth".');
    if (call.method === 'apiinfo.version') {
      if ('auth' in call || req.headers.authorization !== undefined)
        return invalid('The "apiinfo.version" method must be called without authentication.');
      if (!Array.isArray(call.params) || call.params.length > 0)
        return invalid('Invalid parameter "/": an array is expected.');
      return answer({ result: version });
    }
    const header = atLeast(7, 2) ? req.headers.authorization : exactHeader(req, 'Authorization');
    const token = atLeast(6, 4) ? /^Bearer (.+)$/.exec(header ?? '')?.[1] : call.auth;
    if (token === GOOD.token) return answer({ result: [{ hostid: '10084' }] });
    if (token === GOOD.lockedToken) return invalid('API token expired.');
    return invalid(atLeast(6, 4) ? 'Not authorized.' : 'Session terminated, re-login, please.');
  };
}

/** Each system's fake, by the first path segment. */
const SYSTEMS: Readonly<Record<string, (request: Request) => void>> = {
  // Jira Cloud: GET /rest/api/3/myself; a locked account answers 403 with X-Seraph-LoginReason.
  jira({ path, basic, goodBasic, send }) {
    if (path !== '/rest/api/3/myself') return send(404, notFound);
    if (basic?.user === GOOD.lockedUser) {
      return send(
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
      return send(200, { accountId: '5b10a2844c20165700ede21g', emailAddress: GOOD.user, active: true });
    return send(401, {
      errorMessages: ['Client must be authenticated to access this resource.'],
      errors: {},
    });
  },
  // ServiceNow: GET /api/now/table/sys_user?sysparm_limit=1; a locked-out user is not authenticated either.
  servicenow({ path, goodBasic, send }) {
    if (path !== '/api/now/table/sys_user') return send(404, notFound);
    if (goodBasic)
      return send(200, { result: [{ sys_id: '6816f79cc0a8016401c5a33be04be441', user_name: 'admin' }] });
    return send(401, {
      error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
      status: 'failure',
    });
  },
  // Zendesk: GET /api/v2/users/me.json with email/token:apiKey; anonymous without credentials.
  zendesk({ path, basic, send }) {
    if (path !== '/api/v2/users/me.json') return send(404, notFound);
    if (!basic) return send(200, { user: { id: null, name: 'Anonymous user', role: 'end-user' } });
    if (basic.user === `${GOOD.user}/token` && basic.password === GOOD.token)
      return send(200, { user: { id: 35436, name: 'Johnny Agent', role: 'agent' } });
    if (basic.user === `${GOOD.lockedUser}/token`)
      return send(403, {
        error: 'Forbidden',
        description: 'You do not have access to this page. The agent is suspended.',
      });
    return send(401, { error: "Couldn't authenticate you" });
  },
  // GitHub: GET /user with a Bearer token.
  github({ req, path, send }) {
    if (path !== '/user')
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    const auth = req.headers.authorization;
    if (auth === `Bearer ${GOOD.token}`) return send(200, { login: 'octocat', id: 1 });
    if (auth === `Bearer ${GOOD.lockedToken}`)
      return send(403, {
        message: 'Sorry. Your account was suspended.',
        documentation_url: 'https://docs.github.com/rest',
      });
    if (auth === `Bearer ${GOOD.rateLimitedToken}`) {
      return send(
        403,
        {
          message: 'API rate limit exceeded for user ID 1.',
          documentation_url: 'https://docs.github.com/rest/rate-limit',
        },
        { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1700000000' },
      );
    }
    return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
  },
  // TOPdesk: GET /tas/api/version, then an authenticated call; errors are a list of messages.
  topdesk({ path, basic, goodBasic, send }) {
    if (path === '/tas/api/version') return send(200, { version: '3.7.0' });
    if (path !== '/tas/api/incidents') return send(404, notFound);
    if (goodBasic) return send(200, []);
    if (basic?.user === GOOD.lockedUser) return send(403, [{ message: 'The operator account is blocked.' }]);
    return send(401, [{ message: 'The provided credentials are not correct.' }]);
  },
  // Zammad: GET /api/v1/users/me with Token token=…
  zammad({ req, path, send }) {
    if (path !== '/api/v1/users/me') return send(404, notFound);
    const auth = req.headers.authorization;
    if (auth === `Token token=${GOOD.token}`) return send(200, { id: 3, login: GOOD.user });
    if (auth === `Token token=${GOOD.lockedToken}`)
      return send(401, { error: 'User is inactive.', error_human: 'User is inactive.' });
    return send(401, { error: 'Invalid token!', error_human: 'Invalid token!' });
  },
  zabbix: zabbix('7.0.0'),
  zabbix60: zabbix('6.0.36'),
  zabbix72: zabbix('7.2.6'),
  // Autotask: GET /atservicesrest/v1.0/zoneInformation?user=… answers the user's zone.
  autotask({ path, query, origin, send }) {
    if (path !== '/atservicesrest/v1.0/zoneInformation') return send(404, notFound);
    const user = query.get('user');
    if (user === GOOD.user || user === GOOD.lockedUser || user === GOOD.otherZoneUser) {
      const zone = user === GOOD.otherZoneUser ? 'https://webservices2.autotask.net' : `${origin}/autotask`;
      return send(200, {
        zoneName: user === GOOD.otherZoneUser ? 'America East' : 'Here',
        url: `${zone}/atservicesrest/`,
        webUrl: 'https://ww2.autotask.net/',
        ci: 0,
      });
    }
    return send(404, { errors: ['Zone information could not be determined'] });
  },
  // Discord: GET on the webhook URL answers with the webhook object; a deleted one is unknown.
  discord({ path, send }) {
    const match = /^\/api\/webhooks\/(\d+)\/([\w-]+)$/.exec(path);
    if (!match) return send(404, notFound);
    if (match[2] === GOOD.token)
      return send(200, { type: 1, id: match[1], name: 'alerts', channel_id: '199737254929760256' });
    if (match[2] === GOOD.lockedToken) return send(404, { message: 'Unknown Webhook', code: 10015 });
    return send(401, { message: 'Invalid Webhook Token', code: 50027 });
  },
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Routes `/<system>/…`; two prefixes change how any system answers: `/delay/<ms>/…` answers after
 * that many milliseconds, `/huge/…` answers with 2 MiB.
 */
async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://fake');
  let path = url.pathname;
  const delay = /^\/delay\/(\d+)(\/.*)$/.exec(path);
  if (delay) {
    await new Promise((resolve) => setTimeout(resolve, Number(delay[1])));
    path = delay[2] ?? '/';
  }
  const send = sender(res);
  if (path.startsWith('/huge/')) return send(200, JSON.stringify({ data: 'x'.repeat(2 * 1024 * 1024) }));
  const [, system = '', ...rest] = path.split('/');
  const handler = SYSTEMS[system];
  if (!handler) return send(404, notFound);
  const creds = basic(req);
  handler({
    req,
    path: `/${rest.join('/')}`,
    query: url.searchParams,
    basic: creds,
    goodBasic: creds?.user === GOOD.user && creds.password === GOOD.password,
    body: await readBody(req),
    origin: `http://${req.headers.host ?? ''}`,
    send,
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

export async function startFakeTargets(): Promise<FakeTargets> {
  const seen: string[] = [];
  const good = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    answer(req, res).catch(() => sender(res)(500, { message: 'fake failed' }));
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

export type Scenario = 'good' | 'bad' | 'locked' | 'wrong path' | 'slow' | 'drop';

/** Where a scenario points: the type's fake, a path that is no API, the silent or the dropping server. */
export function baseFor(fake: FakeTargets, id: string, scenario: Scenario): string {
  if (scenario === 'slow') return fake.slowUrl;
  if (scenario === 'drop') return fake.dropUrl;
  return `${fake.url}/${scenario === 'wrong path' ? 'nothing-here' : id}`;
}

/** Params for a type pointed at the fakes, with good, bad or locked credentials (GitHub: see baseFor). */
export function paramsFor(fake: FakeTargets, id: string, scenario: Scenario): Record<string, string> {
  const base = baseFor(fake, id, scenario);
  const user =
    scenario === 'locked' ? GOOD.lockedUser : scenario === 'bad' ? 'someone@example.com' : GOOD.user;
  const password = scenario === 'bad' ? 'wrong-secret' : GOOD.password;
  const token = scenario === 'locked' ? GOOD.lockedToken : scenario === 'bad' ? 'wrong-token' : GOOD.token;
  switch (id) {
    case 'jira':
    case 'autotask':
      return { url: base, email: user, password };
    case 'servicenow':
    case 'topdesk':
      return { url: base, username: user, password };
    case 'zendesk':
      return { url: base, email: user, apiKey: token };
    case 'github':
      return { apiKey: token };
    case 'zammad':
    case 'zabbix':
      return { url: base, apiKey: token };
    case 'discord':
      return { url: `${base}/api/webhooks/1234567890/${token}` };
    default:
      throw new Error(`no fake for ${id}`);
  }
}
