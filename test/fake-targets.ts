import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Params } from '../src/connectors/checks/types.js';
import {
  CREDENTIALS,
  type FakeSystem,
  type FakeTarget,
  loadFixtures,
  NOT_FOUND_PAGE,
  type Send,
} from '../src/connectors/fixture.js';

/**
 * Local stand-ins for the systems connectors point at, answering on 127.0.0.1 as each type's
 * fixture says (src/connectors/types/<id>/fixture.ts): with the shapes their public API
 * documentation shows, for good credentials, bad ones, a locked account, and any other path (404,
 * as a wrong base URL gets). The fake of type `<id>` answers below `/<id>`, another version of it
 * below `/<id>@<version>`.
 */
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

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** The fake systems by the first path segment: `<id>` and `<id>@<version>`, from the fixtures. */
export async function fakeSystems(): Promise<ReadonlyMap<string, FakeSystem>> {
  const systems = new Map<string, FakeSystem>();
  for (const [id, fixture] of await loadFixtures()) {
    if (!fixture.target) continue;
    systems.set(id, fixture.target.answer);
    for (const [version, answer] of Object.entries(fixture.target.versions ?? {}))
      systems.set(`${id}@${version}`, answer);
  }
  return systems;
}

/** Answers one request (its body already read) as a system; `path` is below the system's base. */
export function answerAs(
  system: FakeSystem | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  body: string,
): void {
  const send = sender(res);
  if (!system) {
    send(404, NOT_FOUND_PAGE);
    return;
  }
  const url = new URL(req.url ?? '/', 'http://fake');
  const creds = basic(req);
  system({
    req,
    path,
    query: url.searchParams,
    basic: creds,
    goodBasic: creds?.user === CREDENTIALS.good.user && creds.password === CREDENTIALS.good.password,
    body,
    origin: `http://${req.headers.host ?? ''}`,
    send,
  });
}

/**
 * Routes `/<system>/…`; two prefixes change how any system answers: `/delay/<ms>/…` answers after
 * that many milliseconds, `/huge/…` answers with 2 MiB.
 */
async function answer(systems: ReadonlyMap<string, FakeSystem>, req: IncomingMessage, res: ServerResponse) {
  let path = new URL(req.url ?? '/', 'http://fake').pathname;
  const delay = /^\/delay\/(\d+)(\/.*)$/.exec(path);
  if (delay) {
    await new Promise((resolve) => setTimeout(resolve, Number(delay[1])));
    path = delay[2] ?? '/';
  }
  if (path.startsWith('/huge/'))
    return sender(res)(200, JSON.stringify({ data: 'x'.repeat(2 * 1024 * 1024) }));
  const [, system = '', ...rest] = path.split('/');
  answerAs(systems.get(system), req, res, `/${rest.join('/')}`, await readBody(req));
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

export async function startFakeTargets(): Promise<FakeTargets> {
  const systems = await fakeSystems();
  const seen: string[] = [];
  const good = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    answer(systems, req, res).catch(() => sender(res)(500, { message: 'fake failed' }));
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

/** Params of a checkable type for a scenario: pointed at its base, with good, bad or locked credentials. */
export function paramsFor(target: FakeTarget<Params>, base: string, scenario: Scenario): Params {
  const credentials = scenario === 'bad' || scenario === 'locked' ? CREDENTIALS[scenario] : CREDENTIALS.good;
  return target.params(base, credentials);
}
