import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import { SECRET_PLACEHOLDER } from '../../src/connectors/secrets.js';
import { buildTestApp, json, type TestContext } from '../helpers.js';

// Targets that echo the credentials they received — the whole Authorization header, its base64
// payload and what it decodes to, a webhook token from the path, Zabbix's `auth` member — as a JSON
// message, a text/plain page (and reason phrase), an HTML page, or after 185 characters of filler so
// that a 200-character quote would cut a credential in two. No form of a credential may reach the
// check's message, which read keys see as lastCheck.

const USER = 'me@x.io';
const PASSWORD = 'S3cretPassw0rd-echo';
const TOKEN = 'T0ken-echo-9f8e7d6c5b4a';
const variants = ['json', 'text', 'html', 'cut'] as const;
type Variant = (typeof variants)[number];

function echoOf(req: IncomingMessage, body: string): string {
  const auth = req.headers.authorization ?? '';
  const payload = /^Basic (.+)$/.exec(auth)?.[1];
  const decoded = payload ? Buffer.from(payload, 'base64').toString('utf8') : '';
  const rpcAuth = /"auth":"([^"]*)"/.exec(body)?.[1] ?? '';
  const path = new URL(req.url ?? '/', 'http://echo').pathname;
  const last = path.split('/').pop() ?? '';
  return [auth, decoded, rpcAuth, last, path].filter(Boolean).join(' ');
}

function respond(variant: Variant, req: IncomingMessage, res: ServerResponse, body: string): void {
  const path = new URL(req.url ?? '/', 'http://echo').pathname;
  const rpc = /"method":"([^"]+)"/.exec(body)?.[1];
  if (rpc === 'apiinfo.version') {
    const version = path.includes('/zabbix6/') ? '6.0.36' : '7.0.0';
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(`{"jsonrpc":"2.0","result":"${version}","id":1}`);
    return;
  }
  if (path.endsWith('/tas/api/version')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"3.7.0"}');
    return;
  }
  const echo = echoOf(req, body);
  // Zabbix's quote starts with the error's message, `Invalid params. ` (16 characters).
  const filler = 'x'.repeat(rpc === undefined ? 185 : 169);
  const said = variant === 'cut' ? `${filler}${echo}` : `Bad auth header: ${echo}`;
  if (variant === 'text') {
    res.writeHead(401, `Unauthorized ${req.headers.authorization ?? ''}`, { 'content-type': 'text/plain' });
    res.end(`\n  \nUnauthorized: ${echo}\nsecond line ${echo}\n`);
  } else if (variant === 'html') {
    const escaped = echo.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
    res.writeHead(401, { 'content-type': 'text/html' });
    res.end(
      `<!DOCTYPE html><html><head><style>p{color:red}</style></head>\n<body><h1>Error <b>401</b>: ${escaped}</h1><p>${escaped}</p></body></html>`,
    );
  } else if (rpc !== undefined) {
    const error = { code: -32602, message: 'Invalid params.', data: said };
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ jsonrpc: '2.0', error, id: 1 }));
  } else {
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: said }));
  }
}

let echoServer: Server;
let echoUrl = '';
let app: TestContext;
/** How the fake GitHub answers: its API URL is the app's, one for all variants. */
let githubVariant: Variant = 'json';

beforeAll(async () => {
  echoServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const fromPath = variants.find((v) => req.url?.startsWith(`/echo/${v}/`));
      const variant = req.url?.startsWith('/echo/github/') ? githubVariant : (fromPath ?? 'json');
      respond(variant, req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
  const address = echoServer.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  echoUrl = `http://127.0.0.1:${address.port}`;
  const githubApiUrl = `${echoUrl}/echo/github`;
  app = await buildTestApp({
    checks: { allowedTargets: ['127.0.0.1'], timeoutMs: 2_000, endpoints: { github: githubApiUrl } },
  });
});
afterAll(async () => {
  await app.close();
  echoServer.closeAllConnections();
  await new Promise((resolve) => echoServer.close(resolve));
});

/** The params of each checkable type (and Zabbix before 6.4, which sends the token in the body). */
function cases(variant: Variant): [string, string, Record<string, string>][] {
  const base = `${echoUrl}/echo/${variant}`;
  return [
    ['jira', 'jira', { url: `${base}/jira`, email: USER, password: PASSWORD }],
    ['servicenow', 'servicenow', { url: `${base}/servicenow`, username: USER, password: PASSWORD }],
    ['zendesk', 'zendesk', { url: `${base}/zendesk`, email: USER, apiKey: TOKEN }],
    ['github', 'github', { apiKey: TOKEN }],
    ['topdesk', 'topdesk', { url: `${base}/topdesk`, username: USER, password: PASSWORD }],
    ['zammad', 'zammad', { url: `${base}/zammad`, apiKey: TOKEN }],
    ['zabbix', 'zabbix', { url: `${base}/zabbix`, apiKey: TOKEN }],
    ['zabbix 6.0', 'zabbix', { url: `${base}/zabbix6`, apiKey: TOKEN }],
    ['autotask', 'autotask', { url: `${base}/autotask`, email: USER, password: PASSWORD }],
    ['discord', 'discord', { url: `${base}/discord/api/webhooks/1234567890/${TOKEN}` }],
  ];
}

const BASIC = [`${USER}:${PASSWORD}`, `${USER}/token:${TOKEN}`].map((pair) =>
  Buffer.from(pair, 'utf8').toString('base64'),
);
/** Every form a credential was sent in; no 6 characters in a row of any may reach a message. */
const FORMS = [
  PASSWORD,
  TOKEN,
  ...BASIC,
  ...BASIC.map((payload) => `Basic ${payload}`),
  `Bearer ${TOKEN}`,
  `Token token=${TOKEN}`,
];

function leaked(message: string): string[] {
  const found: string[] = [];
  for (const form of FORMS) {
    for (let i = 0; i + 6 <= form.length; i++) {
      const piece = form.slice(i, i + 6);
      if (message.includes(piece)) found.push(piece);
    }
  }
  return found;
}

it('covers every checkable type', () => {
  const checkable = connectorTypes.filter((type) => type.check.kind === 'online').map((type) => type.id);
  expect(new Set(cases('json').map(([, type]) => type))).toEqual(new Set(checkable));
});

describe.each(variants.map((variant) => [variant]))('a target echoing the credentials (%s)', (variant) => {
  it.each(cases('json').map(([name]) => [name]))(
    '%s: no form of a credential in the message',
    async (name) => {
      // The fake's URL is known once it listens, after the tests were collected.
      const [, type, params] = cases(variant).find(([n]) => n === name) ?? [];
      githubVariant = variant;
      const response = await app.call('POST', '/api/connectors/check', { body: { name: 'c', type, params } });
      const result = json<CheckResult>(response);
      expect(response.statusCode, response.body).toBe(200);
      expect(result).toMatchObject({ ok: false, status: 'failed' });
      expect(leaked(result.message), result.message).toEqual([]);
      // What the target said is still quoted, with the credentials replaced.
      if (type !== 'autotask') expect(result.message).toContain(SECRET_PLACEHOLDER);
      if (variant === 'cut') expect(result.message).toMatch(/x{8}.*…/);
      // The reason phrase (which echoed the Authorization header), and the first line of text.
      if (variant === 'text')
        expect(result.message).toMatch(/HTTP 401 Unauthorized( \*{8})?: Unauthorized: /);
      if (variant === 'html') expect(result.message).toContain('Error 401 : ');
    },
  );
});
