import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { buildTestApp, json, type TestContext } from '../helpers.js';

// Spellings of 127.0.0.1 (and of names for it) given as a connector's URL to POST
// /api/connectors/check on a server WITHOUT an allowlist: every one is refused, and the listener
// on 127.0.0.1 that they all point at sees no connection at all.

let victim: net.Server;
let port = 0;
let connections = 0;
let t: TestContext;

beforeAll(async () => {
  victim = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => victim.listen(0, '127.0.0.1', resolve));
  const address = victim.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  port = address.port;
  t = await buildTestApp({
    checks: { allowedTargets: [], timeoutMs: 1_000 },
  });
});
afterAll(async () => {
  await t.close();
  await new Promise((resolve) => victim.close(resolve));
});

/** Host spellings (with the port) that all mean this machine; `name` when the user typed a name. */
const BYPASSES: readonly (readonly [string, 'address' | 'name'])[] = [
  ['2130706433', 'address'],
  ['0x7f000001', 'address'],
  ['017700000001', 'address'],
  ['0177.0.0.1', 'address'],
  ['0x7f.0.0.1', 'address'],
  ['127.1', 'address'],
  ['127.0.0.1.', 'address'],
  ['１２７.０.０.１', 'address'],
  ['0.0.0.0', 'address'],
  ['0', 'address'],
  ['[::ffff:127.0.0.1]', 'address'],
  ['[::ffff:7f00:1]', 'address'],
  ['[0:0:0:0:0:ffff:127.0.0.1]', 'address'],
  ['[::127.0.0.1]', 'address'],
  ['[64:ff9b::7f00:1]', 'address'],
  ['[2002:7f00:1::]', 'address'],
  ['[::1]', 'address'],
  ['[::]', 'address'],
  ['localhost', 'name'],
  ['localhost.', 'name'],
  ['LocalHost', 'name'],
  ['%6c%6f%63%61%6c%68%6f%73%74', 'name'],
  ['api.localhost', 'name'],
];

async function check(type: string, params: Record<string, string>): Promise<CheckResult> {
  const response = await t.call('POST', '/api/connectors/check', { body: { name: 'c', type, params } });
  expect(response.statusCode, response.body).toBe(200);
  return json<CheckResult>(response);
}

describe.each(BYPASSES.map(([host, kind]) => [host, kind]))('a connector URL on %s', (host, kind) => {
  it.each([
    ['jira', (base: string) => ({ url: base, email: 'a@example.com', password: 'secret-1' })],
    ['zabbix', (base: string) => ({ url: base, apiKey: 'token-1234' })],
    ['discord', (base: string) => ({ url: `${base}/api/webhooks/1/token-1234` })],
  ])('%s: refused before any connection', async (type, paramsOf) => {
    const before = connections;
    const result = await check(type, paramsOf(`http://${host}:${port}`));
    // A policy refusal, not the target's verdict: its own status, naming the setting that allows it.
    expect(result).toMatchObject({ ok: false, status: 'blocked' });
    expect(result.message).toMatch(/^refused: .*not (a )?public/);
    expect(result.message).toContain('PLUGBOARD_ALLOWED_TARGETS');
    if (kind === 'name') {
      // A name is refused for what it resolves to, which is not told.
      expect(result.message).toMatch(/resolves to an address that is not public \(loopback/);
      expect(result.message).not.toMatch(/127\.0\.0\.1|::1/);
    }
    expect(connections).toBe(before);
  });
});

describe('other ways in', () => {
  it.each([
    [`http://user:pass@127.0.0.1:PORT/`],
    [`http://example.com@127.0.0.1:PORT/`],
    [`http://127.0.0.1:PORT#@example.com/`],
    [`http://127.0.0.1:PORT\\@example.com/`],
  ])('%s is refused', async (template) => {
    const before = connections;
    const result = await check('jira', {
      url: template.replace('PORT', String(port)),
      email: 'a@example.com',
      password: 'secret-1',
    });
    // Some are refused for their address (blocked), some as URLs that cannot be called (failed).
    expect(result.ok).toBe(false);
    expect(result.status).toMatch(/^(blocked|failed)$/);
    expect(result.message).toMatch(/^refused/);
    expect(connections).toBe(before);
  });

  it("a stored connector's refused check is kept as lastCheck with status blocked", async () => {
    const created = await t.call('POST', '/api/connectors', {
      body: {
        name: 'on loopback',
        type: 'jira',
        params: { url: `http://127.0.0.1:${port}`, email: 'a@example.com', password: 'secret-1' },
      },
    });
    expect(created.statusCode, created.body).toBeLessThan(300);
    const { id } = json<{ id: string }>(created);
    const checked = await t.call('POST', `/api/connectors/${id}/check`);
    expect(json<CheckResult>(checked)).toMatchObject({ ok: false, status: 'blocked' });
    const read = json<{ lastCheck?: CheckResult }>(await t.call('GET', `/api/connectors/${id}`));
    expect(read.lastCheck?.status).toBe('blocked');
    expect(read.lastCheck?.message).toContain('PLUGBOARD_ALLOWED_TARGETS');
  });

  it('never connected, after all of them', () => {
    expect(connections).toBe(0);
  });
});
