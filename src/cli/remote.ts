import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  type Connector,
  type ConnectorInput,
  type ConnectorTypeInfo,
  createPlugboardClient,
  type DeliveryState,
  type PlugboardClient,
  toInput,
} from '@plugboard/client';
import { DELIVERY_STATES } from '../store/schema.js';
import { parseIdArgs, table, UsageError } from './shared.js';

/** Where `plugboard login` keeps the server and key: $XDG_CONFIG_HOME/plugboard/config.json, mode 0600. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'plugboard', 'config.json');
}

interface Login {
  readonly url: string;
  readonly token: string;
}

function readLogin(): Partial<Login> {
  const path = configPath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    throw new UsageError(`${path} holds an API key but others may read it: chmod 600 ${path}`);
  }
  const parsed = JSON.parse(text) as Partial<Login>;
  return { ...(parsed.url ? { url: parsed.url } : {}), ...(parsed.token ? { token: parsed.token } : {}) };
}

/** Server and key: PLUGBOARD_URL and PLUGBOARD_TOKEN, else what `plugboard login` saved. */
export function remoteClient(): PlugboardClient {
  const saved = readLogin();
  const url = process.env.PLUGBOARD_URL || saved.url;
  const token = process.env.PLUGBOARD_TOKEN || saved.token;
  if (!url)
    throw new UsageError(
      'which server? set PLUGBOARD_URL (e.g. http://127.0.0.1:8080) or run plugboard login',
    );
  if (!token) throw new UsageError('no API key: set PLUGBOARD_TOKEN or run plugboard login');
  return createPlugboardClient({
    baseUrl: serverUrl(url, process.env.PLUGBOARD_URL ? 'PLUGBOARD_URL' : 'the URL saved by plugboard login'),
    token,
  });
}

/**
 * `url` if it is an http(s) URL; otherwise a usage error naming where it came from. Unchecked, a
 * URL without its scheme failed later as "Failed to parse URL from 127.0.0.1:8080/api/…".
 */
export function serverUrl(url: string, source: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw new UsageError(
      `${source} is not an http(s) URL (got ${JSON.stringify(withoutPassword(url))}); give the server's address, e.g. http://127.0.0.1:8080` +
        (source.startsWith('the URL saved') ? ', with plugboard login --url' : ''),
    );
  return url;
}

/** A URL-ish text as it may be shown: a password before an `@` (user:password@host) replaced. */
function withoutPassword(text: string): string {
  return text.replace(
    /^([^/@:]*:\/\/)?([^/@:]*):[^/@]*@/,
    (_all, scheme: string | undefined, user: string) => `${scheme ?? ''}${user}:***@`,
  );
}

/** A param's value from `--param NAME=@FILE`: the file, one trailing line break dropped. */
function readParamFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is no such file' : (error as Error).message;
    throw new UsageError(
      `--param ${name}=@${path}: cannot read ${path} (${reason}); give the path of a readable file`,
    );
  }
}

/** A secret read from stdin: all of it, one trailing line break dropped. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks on the terminal without echoing what is typed. */
async function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new UsageError(`${question.replace(/: $/, '')} is needed: give it as NAME=@FILE or NAME=- (stdin)`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const output = rl as unknown as { _writeToOutput: (text: string) => void };
  process.stderr.write(question);
  output._writeToOutput = () => {};
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

/** `--param NAME=VALUE`, `NAME=@FILE` or `NAME=-` (stdin); secrets given as plain values are warned about. */
async function readParams(
  given: readonly string[],
  type: ConnectorTypeInfo | undefined,
): Promise<Record<string, string>> {
  const params: Record<string, string> = {};
  let stdinUsed = false;
  for (const item of given) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes NAME=VALUE, NAME=@FILE or NAME=- (got ${item})`);
    const name = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (value === '-') {
      if (stdinUsed) throw new UsageError('only one --param can be read from stdin');
      stdinUsed = true;
      params[name] = await readStdin();
    } else if (value.startsWith('@')) {
      params[name] = readParamFile(name, value.slice(1));
    } else {
      if (type?.params.find((p) => p.name === name)?.secret) {
        process.stderr.write(
          `plugboard: warning: ${name} is a secret; on the command line it lands in shell history and ps. ` +
            `Next time use ${name}=@FILE, ${name}=- (stdin), or leave it out to be asked\n`,
        );
      }
      params[name] = value;
    }
  }
  return params;
}

function requireType(types: readonly ConnectorTypeInfo[], id: string): ConnectorTypeInfo {
  const type = types.find((t) => t.id === id);
  if (!type) throw new UsageError(`unknown type ${id}; plugboard types lists them`);
  return type;
}

function show(connector: Connector, secretNames: ReadonlySet<string>): string {
  const rows: string[][] = [
    ['id', connector.id],
    ['type', connector.type],
    ['name', connector.name],
    ['created', connector.createdAt],
    ['updated', connector.updatedAt],
    ...Object.entries(connector.params).map(([name, value]) => [
      `params.${name}`,
      secretNames.has(name) ? '******** (secret; --json shows it)' : value,
    ]),
  ];
  if (connector.lastCheck)
    rows.push(['last check', `${connector.lastCheck.status} at ${connector.lastCheck.checkedAt}`]);
  return table(['FIELD', 'VALUE'], rows);
}

const json = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** `plugboard connectors list|get|create|update|delete|check`, over HTTP. */
export async function connectorsCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseIdArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      type: { type: 'string' },
      name: { type: 'string' },
      param: { type: 'string', multiple: true },
      'if-match': { type: 'string' },
    },
  });
  const one = (what: string) => {
    const [id, ...extra] = positionals;
    if (!id || extra.length > 0) throw new UsageError(`connectors ${what} needs exactly one connector ID`);
    return id;
  };
  const client = remoteClient();
  switch (action) {
    case 'list': {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const all: Connector[] = [];
      for await (const connector of client.connectors.all()) all.push(connector);
      if (values.json) json(all);
      else {
        const rows = all.map((c) => [c.id, c.type, c.name, c.updatedAt, c.lastCheck?.status ?? '-']);
        process.stdout.write(
          all.length > 0
            ? `${table(['ID', 'TYPE', 'NAME', 'UPDATED', 'LAST CHECK'], rows)}\n`
            : 'no connectors\n',
        );
      }
      return 0;
    }
    case 'get': {
      const connector =
        values.name !== undefined && positionals.length === 0
          ? await client.connectors.getByName(values.name)
          : await client.connectors.get(one('get (or --name NAME)'));
      if (values.json) json(connector);
      else {
        const type = (await client.types.list()).find((t) => t.id === connector.type);
        const secrets = new Set(type?.params.filter((p) => p.secret).map((p) => p.name));
        process.stdout.write(`${show(connector, secrets)}\n`);
      }
      return 0;
    }
    case 'create': {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      if (!values.type || !values.name) {
        throw new UsageError(
          'connectors create needs --type TYPE and --name NAME (plugboard types lists the types)',
        );
      }
      const type = requireType(await client.types.list(), values.type);
      const params = await readParams(values.param ?? [], type);
      // A required secret not given is asked for, never needed on the command line.
      for (const param of type.params) {
        if (param.required && param.secret && params[param.name] === undefined) {
          params[param.name] = await promptHidden(`${param.name} (${param.description}): `);
        }
      }
      const body = { type: values.type, name: values.name, params } as ConnectorInput;
      const created = await client.connectors.create(body);
      if (values.json) json(created);
      else process.stdout.write(`Created ${created.type} connector ${created.id} (${created.name}).\n`);
      return 0;
    }
    case 'update': {
      const id = one('update');
      if (values.name === undefined && (values.param ?? []).length === 0)
        throw new UsageError(
          'connectors update needs --name NAME or --param NAME=VALUE: there is nothing to change',
        );
      const types = await client.types.list();
      // Read once: modify calls this again after a 412, when stdin has been read to its end and
      // a second read gives "", which would replace (or clear) the secret given on stdin.
      let given: Promise<Record<string, string>> | undefined;
      const updated = await client.connectors.modify(id, async (current) => {
        given ??= readParams(
          values.param ?? [],
          types.find((t) => t.id === current.type),
        );
        const params = await given;
        return {
          ...toInput(current),
          ...(values.name !== undefined ? { name: values.name } : {}),
          params: { ...current.params, ...params },
        } as ConnectorInput;
      });
      if (values.json) json(updated);
      else process.stdout.write(`Updated connector ${updated.id} (${updated.name}).\n`);
      return 0;
    }
    case 'delete': {
      const id = one('delete');
      await client.connectors.delete(id, values['if-match'] ? { ifMatch: values['if-match'] } : {});
      if (values.json) json({ deleted: id });
      else process.stdout.write(`Deleted connector ${id}.\n`);
      return 0;
    }
    case 'check': {
      const result = await client.connectors.check(one('check'));
      if (values.json) json(result);
      else process.stdout.write(`${result.status}: ${result.message}\n`);
      return result.status === 'ok' ? 0 : 1;
    }
    default:
      throw new UsageError(
        `unknown connectors command: ${action ?? '(none)'}; use list, get, create, update, delete or check`,
      );
  }
}

/** `plugboard types`: every connector type and its params. */
export async function typesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' } },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const types = await remoteClient().types.list();
  if (values.json) json(types);
  else {
    const rows = types.map((t) => [
      t.id,
      t.displayName,
      t.params.map((p) => `${p.name}${p.required ? '' : '?'}${p.secret ? ' (secret)' : ''}`).join(', ') ||
        '-',
    ]);
    process.stdout.write(`${table(['TYPE', 'NAME', 'PARAMS (? optional)'], rows)}\n`);
  }
  return 0;
}

/** `plugboard login [--url URL]`: checks the key against the server, then saves both, mode 0600. */
export async function loginCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { url: { type: 'string' } },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const given = values.url ?? process.env.PLUGBOARD_URL;
  if (!given)
    throw new UsageError('login needs --url URL (or PLUGBOARD_URL), e.g. --url http://127.0.0.1:8080');
  const url = serverUrl(given, values.url !== undefined ? '--url' : 'PLUGBOARD_URL');
  const token = process.stdin.isTTY ? await promptHidden('API key: ') : await readStdin();
  if (!token) throw new UsageError('no API key given (type it when asked, or pipe it to stdin)');
  await createPlugboardClient({ baseUrl: url, token }).types.list(); // a wrong key or URL fails here
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify({ url, token }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  process.stdout.write(`Logged in to ${url}; saved in ${path} (mode 0600).\n`);
  return 0;
}

/** `plugboard deliveries list|get|retry`, over HTTP. */
export async function deliveriesCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseIdArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      connector: { type: 'string' },
      state: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const one = (what: string) => {
    const [id, ...extra] = positionals;
    if (!id || extra.length > 0) throw new UsageError(`deliveries ${what} needs exactly one delivery ID`);
    return id;
  };
  switch (action) {
    case 'list': {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const state = values.state as DeliveryState | undefined;
      if (state !== undefined && !DELIVERY_STATES.includes(state)) {
        throw new UsageError(`--state must be one of ${DELIVERY_STATES.join(', ')}`);
      }
      const limit = values.limit === undefined ? 50 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw new UsageError('--limit must be an integer from 1 to 100');
      const page = await remoteClient().deliveries.list({
        maxResults: limit,
        ...(values.connector ? { connector: values.connector } : {}),
        ...(state ? { state } : {}),
      });
      if (values.json) json(page);
      else {
        const rows = page.map((d) => [
          d.id,
          d.connectorId,
          d.event.eventType,
          d.state,
          String(d.attempts.length),
          d.updatedAt,
        ]);
        process.stdout.write(
          page.length > 0
            ? `${table(['ID', 'CONNECTOR', 'EVENT', 'STATE', 'ATTEMPTS', 'UPDATED'], rows)}\n`
            : 'no deliveries\n',
        );
      }
      return 0;
    }
    case 'get': {
      const delivery = await remoteClient().deliveries.get(one('get'));
      if (values.json) json(delivery);
      else {
        const head = table(
          ['FIELD', 'VALUE'],
          [
            ['id', delivery.id],
            ['connector', `${delivery.connectorId} (${delivery.connectorType})`],
            [
              'event',
              `${delivery.event.eventType}${delivery.event.summary ? `: ${delivery.event.summary}` : ''}`,
            ],
            ['state', delivery.state],
            ['created', delivery.createdAt],
            ['next attempt', delivery.nextAttemptAt ?? '-'],
            ['external ref', delivery.externalRef?.url ?? delivery.externalRef?.id ?? '-'],
          ],
        );
        const attempts = delivery.attempts.map((a) => [
          String(a.number),
          a.startedAt,
          a.outcome,
          a.httpStatus === undefined ? '-' : String(a.httpStatus),
          a.message,
        ]);
        process.stdout.write(
          `${head}\n${attempts.length > 0 ? `\n${table(['#', 'STARTED', 'OUTCOME', 'HTTP', 'MESSAGE'], attempts)}\n` : ''}`,
        );
      }
      return 0;
    }
    case 'retry': {
      const delivery = await remoteClient().deliveries.retry(one('retry'));
      if (values.json) json(delivery);
      else process.stdout.write(`Queued delivery ${delivery.id} again (${delivery.state}).\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown deliveries command: ${action ?? '(none)'}; use list, get or retry`);
  }
}
