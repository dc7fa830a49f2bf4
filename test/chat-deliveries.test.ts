import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatText, clip } from '../src/connectors/chat/format.js';
import { Redactor } from '../src/connectors/checks/redact.js';
import type { Params } from '../src/connectors/checks/types.js';
import type { DeliveryEvent, DeliveryOutcome } from '../src/connectors/delivery.js';
import { CREDENTIALS, type FakeSystem, GOOD, loadFixtures } from '../src/connectors/fixture.js';
import { connectorTypes, findConnectorType, type RegisteredType } from '../src/connectors/registry.js';
import { SECRET_PLACEHOLDER } from '../src/connectors/secrets.js';
import { dingtalkSignature } from '../src/connectors/types/dingtalk/sign.js';
import { acknowledgingZabbix } from '../src/connectors/types/zabbix/fixture.js';
import { createOutboundClient } from '../src/outbound/client.js';
import { answerAs } from './fake-targets.js';

/**
 * The edges of the chat types, zabbix and dynamic, beyond the lifecycle of test/deliver-types.test.ts:
 * the largest event the schema allows (the fakes enforce each target's limits), rate limits and the
 * waits they ask for, DingTalk's signature and errcodes, credentials a target echoes, and options.
 */

const fixtures = await loadFixtures();
const http = createOutboundClient({ allowedTargets: ['127.0.0.1'], timeoutMs: 2_000 });

let server: Server;
let origin = '';
/** What answers below `/<name>` now. */
const systems = new Map<string, FakeSystem>();
/** The last request each system got. */
const lastRequest = new Map<string, { req: IncomingMessage; body: string; url: URL }>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const [, name = '', ...rest] = url.pathname.split('/');
      const body = Buffer.concat(chunks).toString('utf8');
      lastRequest.set(name, { req, body, url });
      answerAs(systems.get(name), req, res, `/${rest.join('/')}`, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  origin = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function typeOf(id: string): RegisteredType {
  const type = findConnectorType(id);
  if (!type?.deliver) throw new Error(`${id} does not deliver`);
  return type;
}

const event: DeliveryEvent = {
  eventType: 'ALERT',
  summary: 'Disk full on db-2',
  details: 'Only 1 % left on /var.',
  alertKey: 'db-2-disk',
  priority: 'LOW',
};

/** Delivers through a type as the engine does, with a redactor that knows nothing yet (the type must tell it). */
async function deliver(
  id: string,
  options: {
    params: Params;
    event?: DeliveryEvent;
    options?: Record<string, unknown>;
    deliveryId?: string;
    connectorId?: string;
  },
): Promise<DeliveryOutcome> {
  const type = typeOf(id);
  return (
    type.deliver?.send(
      {
        event: options.event ?? event,
        options: options.options ?? fixtures.get(type.id)?.delivery?.options ?? {},
        params: options.params,
        ...(options.deliveryId ? { deliveryId: options.deliveryId } : {}),
        ...(options.connectorId ? { connectorId: options.connectorId } : {}),
      },
      { http, endpoints: {}, deadline: Date.now() + 2_000, redactor: new Redactor() },
    ) ?? Promise.reject(new Error('no deliver'))
  );
}

/** The fixture's params of a type pointed at `/<name>` of the test server. */
function paramsAt(id: string, name: string, credentials = CREDENTIALS.good): Params {
  const delivery = fixtures.get(typeOf(id).id)?.delivery;
  if (!delivery) throw new Error(`${id} has no delivery fixture`);
  return delivery.params(`${origin}/${name}`, credentials);
}

/** Installs the type's own fake below `/<name>`. */
function useFake(id: string, name = id) {
  const fake = fixtures.get(typeOf(id).id)?.delivery?.fake();
  if (!fake) throw new Error(`${id} has no fake`);
  systems.set(name, fake.answer);
  return fake;
}

const messageTypes = connectorTypes.filter((type) => type.deliver && type.deliver.kind !== 'ticket');

describe('formatting within limits', () => {
  it('clip cuts to the limit with … and never between the halves of a surrogate pair', () => {
    expect(clip('abcdef', 4)).toBe('abc…');
    expect(clip('abc', 3)).toBe('abc');
    const cut = clip('a😀😀😀', 3);
    expect(cut.length).toBeLessThanOrEqual(3);
    expect(cut).toBe('a…');
    expect(clip('abc', 0)).toBe('');
  });

  it('a text keeps its title, facts and links, and cuts the details to fit', () => {
    const text = chatText(
      {
        ...event,
        details: 'x'.repeat(10_000),
        links: [{ href: 'https://grafana.example.com/d/1', text: 'Dashboard' }],
        customDetails: { host: 'db-2' },
      },
      'markdown',
      500,
    );
    expect(text.length).toBeLessThanOrEqual(500);
    expect(text).toMatch(/^\*\*🟠 Alert: Disk full on db-2\*\*/);
    expect(text).toContain('[Dashboard](https://grafana.example.com/d/1)');
    expect(text).toContain('**host**: db\\-2'.replace('\\-', '-'));
    expect(text).toMatch(/x…\n/);
  });

  it("Slack's text cannot mention the channel or break a link: &, < and > are escaped", () => {
    const text = chatText(
      { ...event, summary: '<!channel> disk & more', details: 'see <https://evil.example|here>' },
      'slack',
      4000,
    );
    expect(text).toContain('&lt;!channel&gt; disk &amp; more');
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<https://evil.example|here>');
  });

  it('Google Chat has no escapes: text from an alert cannot mention <users/all> or make a link', () => {
    const text = chatText(
      { ...event, summary: '<users/all> disk', details: 'see <https://evil.example|here>' },
      'gchat',
      4096,
    );
    expect(text).toContain('<\u200busers/all> disk');
    expect(text).not.toContain('<users/all>');
    expect(text).not.toContain('<https://evil.example|here>');
  });

  it('Markdown text (Mattermost, Teams, DingTalk) does not notify a whole channel for alert text', () => {
    const text = chatText(
      { ...event, summary: '@channel disk', details: 'tell @all and @here' },
      'markdown',
      4000,
    );
    for (const mention of ['@channel', '@all', '@here']) expect(text).not.toContain(mention);
    expect(text).toContain('@\u200bchannel disk');
    expect(chatText({ ...event, summary: 'mail ops@example.com' }, 'markdown', 4000)).toContain(
      'ops@example.com',
    );
  });

  /** The largest event the schema allows, in characters that take several bytes. */
  const huge: DeliveryEvent = {
    eventType: 'ALERT',
    summary: `${'界'.repeat(1000)}😀`.slice(0, 1024),
    details: '😀 details '.repeat(3000).slice(0, 32_768),
    alertKey: 'k'.repeat(255),
    priority: 'HIGH',
    links: Array.from({ length: 20 }, (_, i) => ({
      href: `https://grafana.example.com/d/${i}/${'p'.repeat(200)}`,
      text: 'L'.repeat(1024),
    })),
    images: Array.from({ length: 20 }, (_, i) => ({
      src: `https://img.example.com/${i}/${'i'.repeat(200)}.png`,
      alt: 'A'.repeat(1024),
    })),
    customDetails: Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`detail-${i}-${'n'.repeat(300)}`, { nested: 'v'.repeat(2000) }]),
    ),
  };

  it.each(messageTypes.map((type) => [type.id] as const))(
    '%s delivers the largest event the schema allows within its target’s limits',
    async (id) => {
      const fake = useFake(id, `huge-${id}`);
      const outcome = await deliver(id, { params: paramsAt(id, `huge-${id}`), event: huge });
      expect(outcome, outcome.message).toMatchObject({ result: 'delivered' });
      expect(fake.actions).toHaveLength(1);
    },
  );
});

describe('rate limits and the waits they ask for', () => {
  const rateLimited =
    (
      headers: Record<string, string>,
      body: unknown = { message: 'You are being rate limited.' },
    ): FakeSystem =>
    ({ send }) =>
      send(429, body, headers);

  it('Discord: Retry-After, else X-RateLimit-Reset-After, else the body’s retry_after', async () => {
    systems.set('rl-discord', rateLimited({ 'retry-after': '3' }));
    expect(await deliver('discord', { params: paramsAt('discord', 'rl-discord') })).toMatchObject({
      result: 'retry',
      httpStatus: 429,
      retryAfterMs: 3000,
    });
    systems.set('rl-discord', rateLimited({ 'x-ratelimit-reset-after': '1.5' }));
    expect(await deliver('discord', { params: paramsAt('discord', 'rl-discord') })).toMatchObject({
      retryAfterMs: 1500,
    });
    systems.set('rl-discord', rateLimited({}, { message: 'You are being rate limited.', retry_after: 0.25 }));
    expect(await deliver('discord', { params: paramsAt('discord', 'rl-discord') })).toMatchObject({
      retryAfterMs: 250,
    });
  });

  it.each(messageTypes.filter((type) => type.id !== 'zabbix').map((type) => [type.id] as const))(
    '%s: 429 with Retry-After is retried after that wait; 503 is retried; 400 fails',
    async (id) => {
      const name = `rl-${id}`;
      systems.set(name, rateLimited({ 'retry-after': '7' }));
      expect(await deliver(id, { params: paramsAt(id, name) })).toMatchObject({
        result: 'retry',
        httpStatus: 429,
        retryAfterMs: 7000,
      });
      systems.set(name, ({ send }) => send(503, 'busy'));
      expect(await deliver(id, { params: paramsAt(id, name) })).toMatchObject({
        result: 'retry',
        httpStatus: 503,
      });
      systems.set(name, ({ send }) => send(400, { message: 'bad' }));
      expect(await deliver(id, { params: paramsAt(id, name) })).toMatchObject({
        result: 'failed',
        httpStatus: 400,
      });
    },
  );

  it('a target that cannot be reached is retried', async () => {
    const outcome = await deliver('slack', { params: { url: 'http://127.0.0.1:9/services/T/B/x' } });
    expect(outcome.result).toBe('retry');
  });
});

describe('DingTalk', () => {
  it("signs as DingTalk's documentation computes it (a known vector)", () => {
    // base64(HMAC-SHA256(key "SEC123", "1700000000000\nSEC123")), computed outside Node.
    expect(dingtalkSignature('SEC123', 1_700_000_000_000)).toBe(
      'lkcPI1uoxBY1gUnCnnPH1Kkru0Hqjo7rFpA3haIVhEQ=',
    );
  });

  it('a signature with another secret is refused by the fake and fails, saying what to check', async () => {
    const fake = useFake('dingtalk', 'ding-sign');
    const params = { ...paramsAt('dingtalk', 'ding-sign'), secret: 'SEC-another-secret' };
    const outcome = await deliver('dingtalk', { params });
    expect(outcome).toMatchObject({ result: 'failed', httpStatus: 200 });
    expect(outcome.message).toMatch(/errcode 310000 \(sign not match\).*signing secret/);
    expect(outcome.message).not.toContain('SEC-another-secret');
    expect(fake.actions).toEqual([]);
    // The fake took the right one, with the sign URL-encoded in the query.
    expect(await deliver('dingtalk', { params: paramsAt('dingtalk', 'ding-sign') })).toMatchObject({
      result: 'delivered',
    });
    const sent = lastRequest.get('ding-sign');
    const timestamp = Number(sent?.url.searchParams.get('timestamp'));
    expect(sent?.url.searchParams.get('sign')).toBe(dingtalkSignature(GOOD.password, timestamp));
  });

  it.each([
    [130101, 'send too fast, exceed 20 times per minute', { result: 'retry', retryAfterMs: 60_000 }],
    [410100, 'send too fast', { result: 'retry', retryAfterMs: 60_000 }],
    [-1, 'system busy', { result: 'retry' }],
    [300001, 'token is not exist', { result: 'failed' }],
    [310000, 'keywords not in content', { result: 'failed' }],
    [40035, 'missing parameter', { result: 'failed' }],
  ] as const)('errcode %i (%s) in a 200 is %o', async (errcode, errmsg, expected) => {
    systems.set('ding-errcode', ({ send }) => send(200, { errcode, errmsg }));
    const outcome = await deliver('dingtalk', { params: paramsAt('dingtalk', 'ding-errcode') });
    expect(outcome).toMatchObject(expected);
    expect(outcome.message).toContain(`errcode ${errcode} (${errmsg})`);
  });

  it('a 200 without an errcode is not taken as sent', async () => {
    systems.set('ding-html', ({ send }) => send(200, '<html>captive portal</html>'));
    expect(await deliver('dingtalk', { params: paramsAt('dingtalk', 'ding-html') })).toMatchObject({
      result: 'failed',
    });
  });

  it('mentions the members of atMobiles in the text and in `at`, and everyone with isAtAll', async () => {
    useFake('dingtalk', 'ding-at');
    const outcome = await deliver('dingtalk', {
      params: paramsAt('dingtalk', 'ding-at'),
      options: { isAtAll: true, atMobiles: ['13900000001', '13900000002'] },
    });
    expect(outcome.result).toBe('delivered');
    const body = JSON.parse(lastRequest.get('ding-at')?.body ?? '{}');
    expect(body.at).toEqual({ atMobiles: ['13900000001', '13900000002'], isAtAll: true });
    expect(body.markdown.text).toMatch(/@13900000001 @13900000002$/);
  });

  it('its options refuse what DingTalk cannot take', () => {
    const options = typeOf('dingtalk').deliver?.options;
    if (!options) throw new Error('no options');
    expect(Value.Check(options, { atMobiles: ['not a number'] })).toBe(false);
    expect(Value.Check(options, { isAtAll: 'yes' })).toBe(false);
    expect(Value.Check(options, { atUsers: [] })).toBe(false);
    expect(Value.Check(options, {})).toBe(true);
  });
});

describe('credentials never come back in a message', () => {
  /**
   * A target that repeats back everything it got (the URL with its token, the headers) in its error,
   * as some do; for Zabbix, after answering apiinfo.version as Zabbix does.
   */
  /** Credentials shaped like real ones (random letters and digits, not a word the redactor leaves). */
  const REALISTIC = { user: 'ops@example.com', password: 'pW9xQ2rT7vL4', token: 'xK93nQ7bT2mZp5Lw' };

  const echo: FakeSystem = ({ req, body, send }) => {
    const everything = `${req.url} ${req.headers.authorization ?? ''} ${req.headers['idempotency-key'] ?? ''}`;
    if (body.includes('apiinfo.version')) return send(200, { jsonrpc: '2.0', result: '7.0.0', id: 1 });
    if (body.includes('"jsonrpc"'))
      return send(200, {
        jsonrpc: '2.0',
        error: { code: -32602, message: 'Invalid params.', data: everything },
        id: 1,
      });
    if (req.url?.includes('/robot/send')) return send(200, { errcode: 310000, errmsg: everything });
    return send(400, { message: everything, error: everything });
  };

  it.each(messageTypes.map((type) => [type.id, type] as const))(
    '%s: what the target echoed is redacted',
    async (id, type) => {
      const name = `echo-${id}`;
      systems.set(name, echo);
      const params = paramsAt(id, name, REALISTIC);
      const outcome = await deliver(id, { params });
      expect(outcome.result).toBe('failed');
      // The echo reached the message (a target's words are quoted), without any credential.
      expect(outcome.message).toContain(SECRET_PLACEHOLDER);
      const secrets = [...type.secretParams].flatMap((secret) => (params[secret] ? [params[secret]] : []));
      for (const secret of [...secrets, REALISTIC.token, REALISTIC.password])
        expect(outcome.message).not.toContain(secret);
    },
  );
});

describe('options and what a connector lacks', () => {
  it('zabbix names eventId when it is missing, and takes only digits', () => {
    const options = typeOf('zabbix').deliver?.options;
    if (!options) throw new Error('no options');
    const errors = [...Value.Errors(options, {})];
    expect(errors.map((error) => error.path)).toContain('/eventId');
    expect(Value.Check(options, { eventId: '12; drop' })).toBe(false);
    expect(Value.Check(options, { eventId: '4321', extra: 1 })).toBe(false);
    expect(Value.Check(options, { eventId: '4321' })).toBe(true);
  });

  it('zabbix: an unknown event fails, saying to check the eventId', async () => {
    const fake = useFake('zabbix', 'zbx-unknown');
    const outcome = await deliver('zabbix', {
      params: paramsAt('zabbix', 'zbx-unknown'),
      options: { eventId: '999' },
    });
    expect(outcome).toMatchObject({ result: 'failed' });
    expect(outcome.message).toMatch(/No permissions to referred object or it does not exist.*eventId/);
    expect(fake.actions).toEqual([]);
  });

  it('zabbix: RESOLVE closes with a message (1 + 4), ACCEPT acknowledges with one (2 + 4)', async () => {
    const fake = useFake('zabbix', 'zbx-bits');
    for (const eventType of ['ACCEPT', 'RESOLVE'] as const)
      expect(
        (await deliver('zabbix', { params: paramsAt('zabbix', 'zbx-bits'), event: { ...event, eventType } }))
          .result,
      ).toBe('delivered');
    expect(fake.actions).toEqual([
      { action: 'problem', eventId: '4321', bits: 6 },
      { action: 'problem', eventId: '4321', bits: 5 },
    ]);
  });

  it('zabbix before 6.4 gets the token in the auth member, as its check sends it', async () => {
    const fake = acknowledgingZabbix('6.0.36');
    systems.set('zbx-60', fake.answer);
    const outcome = await deliver('zabbix', { params: paramsAt('zabbix', 'zbx-60') });
    expect(outcome).toMatchObject({ result: 'delivered', externalRef: { id: '4321' } });
    expect(fake.actions).toEqual([{ action: 'problem', eventId: '4321', bits: 4 }]);
    expect(lastRequest.get('zbx-60')?.req.headers.authorization).toBeUndefined();
  });

  it.each([
    ['slack', 'url'],
    ['google_chat_bot', 'url'],
    ['microsoft_teams_bot', 'url'],
    ['zoom_chat', 'authorization'],
  ])('%s without %s says what to add', (id, param) => {
    const cannot = fixtures.get(typeOf(id).id)?.delivery?.cannotDeliver;
    expect(cannot).toBeDefined();
    expect(typeOf(id).deliver?.missing?.(cannot ?? {})).toMatch(
      new RegExp(`params\\.${param} \\(PUT /api/connectors/\\{id\\}\\)`),
    );
  });

  it('slack and google_chat_bot stay valid without a url ({} is what ilert’s clients send)', () => {
    for (const id of ['slack', 'google_chat_bot']) {
      const type = typeOf(id);
      expect(Value.Check(type.paramsSchema, {})).toBe(true);
      expect(type.secretParams.has('url')).toBe(true);
    }
  });
});

describe('what each target gets', () => {
  it('dynamic posts the event as it is, with Idempotency-Key from the delivery id and the connector id', async () => {
    const fake = useFake('dynamic', 'dyn');
    const params = paramsAt('dynamic', 'dyn');
    for (let attempt = 0; attempt < 2; attempt++) {
      const outcome = await deliver('dynamic', { params, deliveryId: 'dlv_abc', connectorId: 'con_xyz' });
      expect(outcome.result).toBe('delivered');
      const sent = lastRequest.get('dyn');
      expect(sent?.req.headers['idempotency-key']).toBe('dlv_abc');
      expect(sent?.req.headers['x-plugboard-connector']).toBe('con_xyz');
      expect(sent?.req.headers.authorization).toBe(`Bearer ${GOOD.token}`);
      expect(JSON.parse(sent?.body ?? '')).toEqual(event);
    }
    expect(fake.actions).toHaveLength(2);
  });

  it('dynamic without an authorization sends none', async () => {
    systems.set('dyn-open', ({ req, send }) =>
      send(req.headers.authorization === undefined ? 200 : 400, { ok: true }),
    );
    expect(await deliver('dynamic', { params: { url: `${origin}/dyn-open/hook` } })).toMatchObject({
      result: 'delivered',
    });
  });

  it('Discord gets an embed coloured by priority, pinging no one, and names the message made', async () => {
    useFake('discord', 'dc');
    const outcome = await deliver('discord', {
      params: paramsAt('discord', 'dc'),
      event: {
        ...event,
        summary: '@everyone disk',
        links: [{ href: 'https://x.example/1', text: 'Runbook' }],
      },
    });
    expect(outcome).toMatchObject({ result: 'delivered', externalRef: { id: expect.any(String) } });
    const body = JSON.parse(lastRequest.get('dc')?.body ?? '{}');
    expect(body.allowed_mentions).toEqual({ parse: [] });
    expect(body.embeds[0]).toMatchObject({
      title: '🟠 Alert: @everyone disk',
      url: 'https://x.example/1',
      color: 0xf57c00,
    });
    expect(body.embeds[0].description).toContain('[Runbook](https://x.example/1)');
  });

  it('Google Chat threads the events of one alert key', async () => {
    useFake('google_chat_bot', 'gc');
    const outcome = await deliver('google_chat_bot', { params: paramsAt('google_chat_bot', 'gc') });
    expect(outcome).toMatchObject({ result: 'delivered', externalRef: { id: 'spaces/AAAA/messages/m1' } });
    expect(lastRequest.get('gc')?.url.searchParams.get('threadKey')).toBe('db-2-disk');
  });

  it('Teams gets one Adaptive Card with a coloured title, facts and links as buttons', async () => {
    useFake('microsoft_teams_bot', 'teams');
    await deliver('microsoft_teams_bot', {
      params: paramsAt('microsoft_teams_bot', 'teams'),
      event: { ...event, eventType: 'RESOLVE', links: [{ href: 'https://x.example/2', text: 'Graph' }] },
    });
    const body = JSON.parse(lastRequest.get('teams')?.body ?? '{}');
    const card = body.attachments[0].content;
    expect(card.body[0]).toMatchObject({
      type: 'TextBlock',
      color: 'Good',
      text: '✅ Resolved: Disk full on db\\-2'.replace('\\-', '-'),
    });
    expect(card.body.map((element: { type: string }) => element.type)).toEqual([
      'TextBlock',
      'TextBlock',
      'FactSet',
    ]);
    expect(card.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Graph', url: 'https://x.example/2' }]);
  });

  it('Zoom gets its full content shape with the verification token', async () => {
    useFake('zoom_chat', 'zoom');
    await deliver('zoom_chat', { params: paramsAt('zoom_chat', 'zoom') });
    const sent = lastRequest.get('zoom');
    expect(sent?.req.headers.authorization).toBe(GOOD.token);
    expect(JSON.parse(sent?.body ?? '{}').content.head).toEqual({
      text: '🟠 Alert: Disk full on db-2',
      sub_head: { text: 'Alert key: db-2-disk' },
    });
  });
});
