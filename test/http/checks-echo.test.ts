import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { loadFixtures } from '../../src/connectors/fixture.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import { SECRET_PLACEHOLDER } from '../../src/connectors/secrets.js';
import { answerAs, fakeSystems } from '../fake-targets.js';
import { CheckApps, json, typeOf } from '../helpers.js';

const fixtures = await loadFixtures();

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

const systems = await fakeSystems();

function echoOf(req: IncomingMessage, body: string): string {
  const auth = req.headers.authorization ?? '';
  const payload = /^Basic (.+)$/.exec(auth)?.[1];
  const decoded = payload ? Buffer.from(payload, 'base64').toString('utf8') : '';
  const rpcAuth = /"auth":"([^"]*)"/.exec(body)?.[1] ?? '';
  const path = new URL(req.url ?? '/', 'http://echo').pathname;
  const last = path.split('/').pop() ?? '';
  return [auth, decoded, rpcAuth, last, path].filter(Boolean).join(' ');
}

/** What of the connector's credentials a request carries: a secret, only the user name, or nothing. */
function carried(req: IncomingMessage, body: string): 'secret' | 'user' | undefined {
  const url = decodeURIComponent(req.url ?? '');
  if (req.headers.authorization !== undefined || /"auth":/.test(body)) return 'secret';
  if (url.includes(PASSWORD) || url.includes(TOKEN)) return 'secret';
  return url.includes(USER) ? 'user' : undefined;
}

/** What each echoed request of the current case carried. */
let echoed: ('secret' | 'user')[] = [];

function echo(variant: Variant, req: IncomingMessage, res: ServerResponse, body: string): void {
  const rpc = /"method":"([^"]+)"/.exec(body)?.[1];
  const echo = echoOf(req, body);
  // A JSON-RPC quote starts with the error's message, `Invalid params. ` (16 characters).
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

/**
 * `/echo/<variant>/<system>/…`: a request that carries any of the credentials is echoed; one that
 * carries none (a version probe before the authenticated call) gets the system's fake answer.
 */
async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.from(chunk));
  const body = Buffer.concat(chunks).toString('utf8');
  const [, , name = '', system = '', ...rest] = new URL(req.url ?? '/', 'http://echo').pathname.split('/');
  const variant = variants.find((v) => v === name) ?? 'json';
  const what = carried(req, body);
  if (what === undefined) return answerAs(systems.get(system), req, res, `/${rest.join('/')}`, body);
  echoed.push(what);
  echo(variant, req, res, body);
}

let echoServer: Server;
let echoUrl = '';
const apps = new CheckApps({ allowedTargets: ['127.0.0.1'], timeoutMs: 2_000 });

beforeAll(async () => {
  echoServer = createServer((req, res) => {
    respond(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
  const address = echoServer.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  echoUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  await apps.close();
  echoServer.closeAllConnections();
  await new Promise((resolve) => echoServer.close(resolve));
});

/** Every checkable type's fake, and each other version of it (Zabbix before 6.4 sends the token in the body). */
const cases = [...systems.keys()].map((system) => {
  const type = typeOf(system.split('@')[0] ?? '');
  const target = fixtures.get(type.id)?.target;
  if (!target) throw new Error(`no fake target for ${type.id}`);
  return { system, type, target };
});

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
  const checkable = connectorTypes.filter((type) => type.check.kind === 'online');
  expect(new Set(cases.map(({ type }) => type))).toEqual(new Set(checkable));
});

describe.each(variants.map((variant) => [variant]))('a target echoing the credentials (%s)', (variant) => {
  it.each(cases.map((c) => [c.system, c] as const))(
    '%s: no form of a credential in the message',
    async (_system, { system, type, target }) => {
      // The echo's URL is known once it listens, after the tests were collected.
      const base = `${echoUrl}/echo/${variant}/${system}`;
      const params = target.params(base, { user: USER, password: PASSWORD, token: TOKEN });
      const app = await apps.for(type, base);
      echoed = [];
      const response = await app.call('POST', '/api/connectors/check', {
        body: { name: 'c', type: type.id, params },
      });
      const result = json<CheckResult>(response);
      expect(response.statusCode, response.body).toBe(200);
      expect(echoed.length, 'requests that reached the echo').toBeGreaterThan(0);
      expect(result).toMatchObject({ ok: false, status: 'failed' });
      expect(leaked(result.message), result.message).toEqual([]);
      // What the target said is still quoted, with the credentials replaced.
      if (echoed.includes('secret')) expect(result.message).toContain(SECRET_PLACEHOLDER);
      if (variant === 'cut') expect(result.message).toMatch(/x{8}.*…/);
      // The reason phrase (which echoed the Authorization header), and the first line of text.
      if (variant === 'text')
        expect(result.message).toMatch(/HTTP 401 Unauthorized( \*{8})?: Unauthorized: /);
      if (variant === 'html') expect(result.message).toContain('Error 401 : ');
    },
  );
});
