/**
 * The model of the hostile-input property test (hostile-input.test.ts): one long-lived app with two
 * accounts (a write and a read key each), what it has stored as the test last saw it (`state`: both
 * accounts' connectors, audit trails and raw rows, serialized for comparison), housekeeping that
 * keeps that small, and `prepare`, which turns a generated `Command` into a request against it.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { ConnectorType } from '../../src/connectors/define.js';
import { connectorTypes } from '../../src/connectors/registry.js';
import type { Connector } from '../../src/connectors/schemas.js';
import { etagOf } from '../../src/http/conditional.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { buildTestApp, endpointsAt, type TestContext } from '../helpers.js';
import type { Auth, Body, Command, IdRef, KeyName } from './hostile-generators.js';

/** Connectors per account are kept between these bounds, so that a snapshot stays cheap. */
const MIN_CONNECTORS = 6;
const MAX_CONNECTORS = 30;
const PAGE = 25;
/** The audit trail is emptied (directly in the database) when it grows past this. */
const MAX_AUDIT_EVENTS = 80;

export type Keys = Readonly<Record<KeyName, string>>;

export interface State {
  acme: Connector[];
  globex: Connector[];
  /** The serialized snapshot: compared around every 4xx. */
  text: string;
}

/** A command made into a request. */
export interface Prepared {
  readonly options: InjectOptions;
  /** What the server should have parsed from the body, when it is JSON text. */
  readonly sent: unknown;
  /** The request for a failure message (keys named, not shown). */
  readonly summary: string;
}

export function bearer(key: string) {
  return { authorization: `Bearer ${key}` };
}

export class HostileModel {
  /** What is stored, as the last snapshot saw it. */
  state: State = { acme: [], globex: [], text: '' };
  /** Ids of connectors deleted lately: `{id}` of the `gone` kind. */
  private readonly goneIds: string[] = [];
  private serial = 0;

  private constructor(
    private readonly test: TestContext,
    /** Lines logged at level error or above, until the test empties them: a 5xx or a swallowed failure. */
    readonly errorLogs: string[],
  ) {}

  /** The app on the backend under test (in-memory SQLite, or a schema of its own on PostgreSQL), with its keys and first connectors. */
  static async open(): Promise<HostileModel> {
    const test = await buildTestApp({
      logLevel: 'error',
      // Every URL the fuzzer stores points at a private literal: checks are refused, nothing is called.
      checks: { allowedTargets: [], timeoutMs: 500, endpoints: endpointsAt(() => 'http://127.0.0.1:9') },
    });
    const model = new HostileModel(test, test.logs);
    model.state = await model.snapshot();
    await model.housekeeping();
    return model;
  }

  get keys(): Keys {
    return this.test.keys;
  }

  private get database(): DatabaseHandle {
    return this.test.database;
  }

  close(): Promise<void> {
    return this.test.close();
  }

  inject(options: InjectOptions): Promise<LightMyRequestResponse> {
    return this.test.app.inject(options);
  }

  private async listAll(key: string, path: string, size: number): Promise<unknown[]> {
    const all: unknown[] = [];
    for (let offset = 0; ; offset += size) {
      const response = await this.inject({
        method: 'GET',
        url: `${path}?start-index=${offset}&max-results=${size}`,
        headers: bearer(key),
      });
      if (response.statusCode !== 200)
        throw new Error(`snapshot: GET ${path} answered ${response.statusCode}`);
      const page = response.json() as unknown[];
      all.push(...page);
      if (page.length < size) return all;
    }
  }

  /** Both accounts' connectors and audit trails through the API, every page, and the raw rows. */
  async snapshot(): Promise<State> {
    const { keys, database } = this;
    const acme = (await this.listAll(keys.write, '/api/connectors', PAGE)) as Connector[];
    const globex = (await this.listAll(keys.otherWrite, '/api/connectors', PAGE)) as Connector[];
    const acmeAudit = await this.listAll(keys.write, '/api/audit-events', 100);
    const globexAudit = await this.listAll(keys.otherWrite, '/api/audit-events', 100);
    const rows = await database.db.selectFrom('connectors').selectAll().orderBy('seq').execute();
    const audit = await database.db
      .selectFrom('audit_events')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('seq').as('last')])
      .executeTakeFirstOrThrow();
    // A refused keyed POST must not leave a claim behind, nor move an account's list version.
    const idempotency = await database.db
      .selectFrom('idempotency_keys')
      .select(['account_id', 'key', 'state', 'request_hash'])
      .orderBy('account_id')
      .orderBy('key')
      .execute();
    const accounts = await database.db.selectFrom('accounts').selectAll().orderBy('id').execute();
    return {
      acme,
      globex,
      text: JSON.stringify({ acme, globex, acmeAudit, globexAudit, rows, audit, idempotency, accounts }),
    };
  }

  private seedBody(type: ConnectorType): Body {
    this.serial += 1;
    const serial = this.serial;
    const params: Record<string, string> = {};
    for (const [name, spec] of Object.entries(type.params)) {
      params[name] =
        spec.format === 'url' ? `https://10.0.0.1/${type.id}/${serial}?access_token=t` : `${name}-${serial}`;
    }
    return { type: type.id, name: `seed ${serial}`, params };
  }

  /** Keeps each account between MIN_ and MAX_CONNECTORS small connectors; empties a long audit trail. */
  async housekeeping(): Promise<void> {
    const { keys, state, goneIds } = this;
    let changed = false;
    for (const [key, list] of [
      [keys.write, state.acme],
      [keys.otherWrite, state.globex],
    ] as const) {
      const tooBig = list.filter((c) => JSON.stringify(c).length > 8_192);
      const surplus =
        list.length - tooBig.length > MAX_CONNECTORS ? list.slice(-(list.length - MAX_CONNECTORS)) : [];
      for (const connector of new Set([...tooBig, ...surplus])) {
        const response = await this.inject({
          method: 'DELETE',
          url: `/api/connectors/${encodeURIComponent(connector.id)}`,
          headers: bearer(key),
        });
        if (response.statusCode !== 204)
          throw new Error(`housekeeping: DELETE answered ${response.statusCode}`);
        goneIds.push(connector.id);
        changed = true;
      }
      for (let i = list.length - tooBig.length; i < MIN_CONNECTORS; i++) {
        const type = connectorTypes[this.serial % connectorTypes.length] as ConnectorType;
        const response = await this.inject({
          method: 'POST',
          url: '/api/connectors',
          headers: { ...bearer(key), 'content-type': 'application/json' },
          payload: JSON.stringify(this.seedBody(type)),
        });
        if (response.statusCode !== 201)
          throw new Error(`housekeeping: POST answered ${response.statusCode}`);
        changed = true;
      }
    }
    if (goneIds.length > 100) goneIds.splice(0, goneIds.length - 100);
    const { n } = await this.database.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(n) > MAX_AUDIT_EVENTS) {
      await this.database.db.deleteFrom('audit_events').execute();
      changed = true;
    }
    if (changed) this.state = await this.snapshot();
  }

  /** Notes a connector the test deleted, for later `gone` ids. */
  forget(id: string): void {
    this.goneIds.push(id);
  }

  resolveId(ref: IdRef): { segment: string; target: Connector | undefined } {
    const pick = (list: Connector[], index: number) =>
      list.length === 0 ? undefined : list[index % list.length];
    switch (ref.kind) {
      case 'acme':
      case 'globex': {
        const target = pick(ref.kind === 'acme' ? this.state.acme : this.state.globex, ref.index);
        return { segment: target ? encodeURIComponent(target.id) : 'none', target };
      }
      case 'gone':
        return { segment: this.goneIds[this.goneIds.length - 1] ?? 'gone', target: undefined };
      case 'literal':
        return { segment: ref.segment, target: undefined };
    }
  }

  authHeader(auth: Auth): Record<string, string> {
    if (auth.kind === 'none') return {};
    if (auth.kind === 'raw') return { authorization: auth.header };
    return bearer(this.keys[auth.key]);
  }

  prepare(command: Command): Prepared {
    const { segment, target } = this.resolveId(command.id);
    const name = target ? encodeURIComponent(target.name) : segment;
    const url = `${command.path.replaceAll('{id}', segment).replaceAll('{name}', name)}${command.query}`;
    const headers: Record<string, string> = { ...command.headers, ...this.authHeader(command.auth) };
    if (command.ifMatch !== undefined) {
      headers['if-match'] = target ? command.ifMatch.replace('current', etagOf(target)) : command.ifMatch;
    }
    let payload: string | Buffer | undefined;
    let sent: unknown;
    if (command.payload?.kind === 'json') payload = JSON.stringify(command.payload.value);
    else if (command.payload?.kind === 'text') payload = command.payload.text;
    else if (command.payload?.kind === 'bytes') payload = Buffer.from(command.payload.bytes);
    if (payload !== undefined) {
      try {
        sent = JSON.parse(Buffer.isBuffer(payload) ? payload.toString('utf8') : payload);
      } catch {
        sent = undefined;
      }
    }
    const shown = (text: string) =>
      text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
    const summary = [
      `${command.method} ${shown(url)}`,
      `headers ${shown(JSON.stringify({ ...headers, authorization: headers.authorization && command.auth.kind === 'key' ? `<${command.auth.key} key>` : headers.authorization }))}`,
      payload === undefined
        ? 'no body'
        : `body ${shown(Buffer.isBuffer(payload) ? payload.toString('hex') : payload)}`,
    ].join('\n');
    return {
      options: {
        method: command.method as InjectOptions['method'],
        url,
        headers,
        ...(payload === undefined ? {} : { payload }),
      },
      sent,
      summary,
    };
  }
}
