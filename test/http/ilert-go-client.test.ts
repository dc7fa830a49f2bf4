/**
 * The HTTP that ilert's official Go client (github.com/iLert/ilert-go/v3, v3.19.0, resty v2.7.0 on
 * Go's net/http) speaks for connectors, byte for byte over one kept-alive TCP connection, against
 * a server with the default settings. What the client does is written down here, not imported:
 *
 * - every request carries the client-wide headers `Accept: application/json`,
 *   `Content-Type: application/json` (a GET or DELETE too, with no body and no Content-Length),
 *   `User-Agent: ilert-go/v3.19.0`, `Accept-Encoding: gzip` and `Authorization: Bearer <token>`;
 *   Go writes Host and User-Agent first, then Content-Length, then the rest sorted by name;
 * - bodies are Go's json.Marshal of `Connector{ID,Name,Type,CreatedAt,UpdatedAt,Params}`:
 *   `id`, `createdAt`, `updatedAt` only when set, `params` always (`null` when unset), and the
 *   params structs' fields always (Teams' `url` as `""` when empty);
 * - it accepts exactly 201 from create, 200 from get, list and update, 204 from delete; anything
 *   else is an error it decodes from `{status, code, message}`;
 * - list sends `?max-results=50&start-index=0` (url.Values sorted); a name goes into the path as
 *   it is (`/api/connectors/name/<name>`), so names with `/ ? # %` must be encoded by the caller.
 */
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config.js';
import { buildTestApp, type TestContext } from '../helpers.js';

const USER_AGENT = 'ilert-go/v3.19.0';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One kept-alive connection, as Go's transport keeps one per host. */
class GoWire {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
    private readonly token: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
  }

  static async open(port: number, token: string): Promise<GoWire> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new GoWire(socket, `127.0.0.1:${port}`, token);
  }

  /** The request exactly as Go's net/http writes it for resty. */
  async send(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: string): Promise<RawResponse> {
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${this.host}`, `User-Agent: ${USER_AGENT}`];
    if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    lines.push(
      'Accept: application/json',
      'Accept-Encoding: gzip',
      `Authorization: Bearer ${this.token}`,
      'Content-Type: application/json',
    );
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`);
    return this.read();
  }

  private async read(): Promise<RawResponse> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine = '', ...headerLines] = this.buffer
          .subarray(0, end)
          .toString('latin1')
          .split('\r\n');
        const headers = Object.fromEntries(
          headerLines.map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
          }),
        );
        expect(headers['transfer-encoding'], 'a length the client can read').toBeUndefined();
        const length = Number(headers['content-length'] ?? 0);
        if (this.buffer.length >= end + 4 + length) {
          const raw = this.buffer.subarray(end + 4, end + 4 + length);
          this.buffer = this.buffer.subarray(end + 4 + length);
          const body = headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
          return { status: Number(statusLine.split(' ')[1]), headers, body: body.toString('utf8') };
        }
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no complete response within 5 s')), 5_000);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** What getGenericAPIError accepts: the one expected status, else an error decoded from the body. */
function expectAccepted(response: RawResponse, expected: number): void {
  if (response.status !== expected) {
    throw new Error(`the Go client reports an error: ${response.status} ${response.body}`);
  }
}

/** ConnectorOutput: json.Unmarshal into {id, name, type, createdAt, updatedAt, params{…}}. */
interface ConnectorOutput {
  id: string;
  name: string;
  type: string;
  createdAt: string;
  updatedAt: string;
  params: Record<string, string>;
}

let t: TestContext;
let wire: GoWire;

beforeAll(async () => {
  t = await buildTestApp({ createStatus: defaultConfig().createStatus }); // the default setting
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  wire = await GoWire.open(address.port, t.keys.write);
});

afterAll(async () => {
  wire.close();
  await t.close();
});

describe("ilert's Go client v3 against a default start", () => {
  it('creates, gets, lists, finds by name, updates and deletes a Jira connector', async () => {
    const created = await wire.send(
      'POST',
      '/api/connectors',
      '{"name":"Go Jira","type":"jira","params":{"url":"https://acme.atlassian.net","email":"ops@acme.example","password":"tok"}}',
    );
    expectAccepted(created, 201);
    const connector = JSON.parse(created.body) as ConnectorOutput;
    expect(connector).toMatchObject({ name: 'Go Jira', type: 'jira', params: { email: 'ops@acme.example' } });

    const got = await wire.send('GET', `/api/connectors/${connector.id}`);
    expectAccepted(got, 200);
    expect(JSON.parse(got.body)).toEqual(connector);

    const listed = await wire.send('GET', '/api/connectors?max-results=50&start-index=0');
    expectAccepted(listed, 200);
    expect((JSON.parse(listed.body) as ConnectorOutput[]).map((c) => c.id)).toContain(connector.id);

    const found = await wire.send('GET', '/api/connectors/name/Go%20Jira');
    expectAccepted(found, 200);
    expect((JSON.parse(found.body) as ConnectorOutput).id).toBe(connector.id);

    // A caller that read the connector sends it back whole: id and timestamps are ignored.
    const updated = await wire.send(
      'PUT',
      `/api/connectors/${connector.id}`,
      JSON.stringify({
        id: connector.id,
        name: 'Go Jira renamed',
        type: 'jira',
        createdAt: connector.createdAt,
        updatedAt: connector.updatedAt,
        params: { url: 'https://acme.atlassian.net', email: 'ops@acme.example', password: 'tok2' },
      }),
    );
    expectAccepted(updated, 200);
    expect(JSON.parse(updated.body)).toMatchObject({ id: connector.id, name: 'Go Jira renamed' });

    const deleted = await wire.send('DELETE', `/api/connectors/${connector.id}`);
    expectAccepted(deleted, 204);
    expect(deleted.body).toBe('');

    const gone = await wire.send('GET', `/api/connectors/${connector.id}`);
    expect(gone.status).toBe(404);
    // NotFoundAPIError is decoded from {status, code, message}.
    expect(JSON.parse(gone.body)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('creates a Slack connector whose params are unset ("params": null)', async () => {
    const created = await wire.send(
      'POST',
      '/api/connectors',
      '{"name":"Go Slack","type":"slack","params":null}',
    );
    expectAccepted(created, 201);
    const connector = JSON.parse(created.body) as ConnectorOutput;
    expect(connector.params).toEqual({});
    const updated = await wire.send(
      'PUT',
      `/api/connectors/${connector.id}`,
      '{"name":"Go Slack 2","type":"slack","params":null}',
    );
    expectAccepted(updated, 200);
    expectAccepted(await wire.send('DELETE', `/api/connectors/${connector.id}`), 204);
  });

  it('creates a Teams bot connector with an empty URL (ConnectorParamsMicrosoftTeams{URL: ""})', async () => {
    const created = await wire.send(
      'POST',
      '/api/connectors',
      '{"name":"Go Teams","type":"microsoft_teams_bot","params":{"url":""}}',
    );
    expectAccepted(created, 201);
    expect((JSON.parse(created.body) as ConnectorOutput).params).toEqual({});
  });

  it('finds a name holding / ? # % when the caller encodes it, as the README asks', async () => {
    const name = 'ops/eu? #1 100%';
    const body = JSON.stringify({ name, type: 'slack', params: null });
    expectAccepted(await wire.send('POST', '/api/connectors', body), 201);
    const found = await wire.send('GET', `/api/connectors/name/${encodeURIComponent(name)}`);
    expectAccepted(found, 200);
    expect((JSON.parse(found.body) as ConnectorOutput).name).toBe(name);
  });
});
