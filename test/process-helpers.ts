/**
 * Real-process helpers: run the compiled `plugboard` command (bin/plugboard.js, which loads dist/)
 * in a temporary directory on its own SQLite file. Every wait is bounded; every process a sandbox
 * spawns is SIGKILLed by `cleanup()` if it is still running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const BIN = fileURLToPath(new URL('../bin/plugboard.js', import.meta.url));

/** The variables Plugboard reads; the parent's values never leak into a child. */
const PLUGBOARD_ENV = [
  'PORT',
  'HOST',
  'DATABASE_URL',
  'LOG_LEVEL',
  'PLUGBOARD_API_KEY',
  'PLUGBOARD_CREATE_STATUS',
  'PLUGBOARD_SQLITE_SYNCHRONOUS',
  'PLUGBOARD_MASTER_KEY',
  'PLUGBOARD_PREVIOUS_MASTER_KEYS',
  'PLUGBOARD_REVEAL_SECRETS',
  'PLUGBOARD_RATE_LIMIT',
  'PLUGBOARD_ALLOWED_TARGETS',
  'REDIS_URL',
  'PLUGBOARD_METRICS',
  'LOG_FORMAT',
  'NODE_OPTIONS',
  'PLUGBOARD_URL',
  'PLUGBOARD_TOKEN',
  'XDG_CONFIG_HOME',
  // Not a setting: the build's own (scripts/code-cache.mjs), which has a server write the code cache.
  'PLUGBOARD_WRITE_CODE_CACHE',
];

export type EnvOverrides = Record<string, string | undefined>;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or throws at the deadline. */
export async function waitFor<T>(
  description: string,
  check: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 5_000, intervalMs = 25 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(intervalMs);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a child that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with `promise`, or rejects after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, description: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${description}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One spawned `plugboard` process with its output collected. */
export class PlugboardProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise<Exit>((resolve) => {
      // 'close' (not 'exit') so that all output has been read when it fires.
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', (error) => {
        this.stderr += `\n[spawn error] ${error.message}`;
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** stdout and stderr lines. */
  lines(): string[] {
    return `${this.stdout}\n${this.stderr}`.split('\n');
  }

  /** The output lines that are JSON objects: pino's log lines. */
  logLines(): Record<string, unknown>[] {
    const parsed: Record<string, unknown>[] = [];
    for (const line of this.lines()) {
      const text = line.trim();
      if (!text.startsWith('{')) continue;
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value === 'object' && value !== null) parsed.push(value as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    return parsed;
  }

  /** The raw output lines that parse as JSON. */
  rawLogLines(): string[] {
    return this.lines().filter((line) => {
      try {
        JSON.parse(line);
        return line.trim().startsWith('{');
      } catch {
        return false;
      }
    });
  }

  waitForExit(timeoutMs = 10_000): Promise<Exit> {
    return withTimeout(
      this.exited,
      timeoutMs,
      `plugboard ${this.child.spawnargs.slice(2).join(' ')} to exit`,
    );
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL (if still running) and wait for the process to be gone. */
  async kill(): Promise<Exit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.waitForExit(5_000);
  }
}

/** A running `plugboard serve`. */
export class ServerProcess extends PlugboardProcess {
  url = '';
  port = 0;

  /** fetch against this server with an optional Bearer key, JSON body and more headers. */
  request(
    method: string,
    path: string,
    { key, body, headers: extra = {}, timeoutMs = 5_000 }: RequestOptions = {},
  ) {
    const headers: Record<string, string> = {};
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${this.url}${path}`, {
      method,
      headers: { ...headers, ...extra },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  /** A request answered and read: status, parsed JSON body, headers, ETag and how long it took. */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const started = Date.now();
    const response = await this.request(method, path, options);
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? undefined : JSON.parse(text),
      headers: response.headers,
      etag: response.headers.get('etag'),
      ms: Date.now() - started,
    };
  }
}

export interface RequestOptions {
  readonly key?: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** A hang becomes a failure after this long rather than a stuck test (default 5 s). */
  readonly timeoutMs?: number;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
  readonly etag: string | null;
  readonly ms: number;
}

const listening = /^Server listening at (http:\/\/127\.0\.0\.1:(\d+))$/;

export interface SandboxOptions {
  /** The DATABASE_URL of every process of the sandbox (e.g. postgres://…); default: its own SQLite file. */
  readonly databaseUrl?: string;
}

/** A temporary directory with its own database (or the given one), and every process started in it. */
export class Sandbox {
  readonly dir: string;
  /** The SQLite file of the default database (unused when `databaseUrl` was given). */
  readonly dbPath: string;
  readonly databaseUrl: string;
  private readonly processes = new Set<PlugboardProcess>();

  constructor(options: SandboxOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'plugboard-proc-'));
    this.dbPath = join(this.dir, 'p.db');
    this.databaseUrl = options.databaseUrl ?? `sqlite:${this.dbPath}`;
  }

  /** The child's environment: ours without Plugboard's variables, this sandbox's database, port 0. */
  env(overrides: EnvOverrides = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of PLUGBOARD_ENV) delete env[name];
    Object.assign(env, { DATABASE_URL: this.databaseUrl, PORT: '0', HOST: '127.0.0.1' });
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    return env;
  }

  spawn(args: readonly string[], overrides: EnvOverrides = {}): PlugboardProcess {
    const started = new PlugboardProcess(args, this.env(overrides), this.dir);
    this.processes.add(started);
    return started;
  }

  /** Runs a command to completion (killed after `timeoutMs`). */
  async run(
    args: readonly string[],
    overrides: EnvOverrides = {},
    timeoutMs = 10_000,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const started = this.spawn(args, overrides);
    try {
      const { code } = await started.waitForExit(timeoutMs);
      return { code, stdout: started.stdout, stderr: started.stderr };
    } finally {
      await started.kill();
    }
  }

  /** Starts `plugboard serve` and resolves once it logs the address it listens on, and then that it is ready. */
  async startServer(overrides: EnvOverrides = {}, timeoutMs = 10_000): Promise<ServerProcess> {
    const server = new ServerProcess(['serve'], this.env(overrides), this.dir);
    this.processes.add(server);
    try {
      const url = await waitFor(
        'the server to log "Server listening at"',
        () => {
          for (const line of server.logLines()) {
            const match = typeof line.msg === 'string' ? listening.exec(line.msg) : null;
            if (match?.[1]) return match[1];
          }
          if (!server.running) {
            throw new Error(
              `plugboard serve exited (${JSON.stringify(server.exit)}) before listening:\n${server.stdout}\n${server.stderr}`,
            );
          }
          return undefined;
        },
        { timeoutMs, intervalMs: 20 },
      );
      // The first key is created and shown only once listening; "Plugboard is ready" comes after it.
      await waitFor(
        'the server to log "Plugboard is ready"',
        () => {
          if (server.logLines().some((line) => line.msg === 'Plugboard is ready')) return true;
          if (!server.running) {
            throw new Error(
              `plugboard serve exited (${JSON.stringify(server.exit)}) after listening:\n${server.stdout}\n${server.stderr}`,
            );
          }
          return undefined;
        },
        { timeoutMs, intervalMs: 20 },
      );
      server.url = url;
      server.port = Number(new URL(url).port);
      return server;
    } catch (error) {
      await server.kill();
      throw error;
    }
  }

  /** SIGKILLs whatever still runs and removes the directory. */
  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.processes].map((started) => started.kill()));
    this.processes.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The key lines of some output: a line that is a `pb_` key alone (surrounding blanks allowed). */
export function printedKeys(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^pb_[A-Za-z0-9_-]{20,}$/.test(line));
}

export interface RawResponse {
  readonly status: number;
  readonly body: string;
}

/**
 * A POST sent in two parts over its own connection (no keep-alive pool): the headers and the
 * first half of the body now, the rest on `finish()`. Keeps a request in flight on purpose.
 */
export function slowPost(
  url: string,
  path: string,
  key: string,
  body: unknown,
): { connected: Promise<void>; finish(): void; response: Promise<RawResponse> } {
  const payload = Buffer.from(JSON.stringify(body));
  const half = Math.floor(payload.length / 2);
  const request = http.request(`${url}${path}`, {
    method: 'POST',
    agent: false,
    timeout: 10_000,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'content-length': String(payload.length),
    },
  });
  const { connected, response } = track(request, 'slow POST timed out');
  request.flushHeaders();
  request.write(payload.subarray(0, half));
  return {
    connected,
    finish: () => request.end(payload.subarray(half)),
    response,
  };
}

/** `connected` once the TCP connection is up, `response` with the answer (either may reject). */
function track(
  request: http.ClientRequest,
  timeoutMessage: string,
): { connected: Promise<void>; response: Promise<RawResponse> } {
  const connected = new Promise<void>((resolve, reject) => {
    request.once('socket', (socket) => socket.once('connect', () => resolve()));
    request.once('error', reject);
  });
  const response = new Promise<RawResponse>((resolve, reject) => {
    request.once('error', reject);
    request.once('timeout', () => request.destroy(new Error(timeoutMessage)));
    request.once('response', (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => {
        text += chunk;
      });
      incoming.once('end', () => resolve({ status: incoming.statusCode ?? 0, body: text }));
      incoming.once('error', reject);
    });
  });
  // Either promise may reject before anybody awaits it.
  connected.catch(() => {});
  response.catch(() => {});
  return { connected, response };
}

/**
 * A one-off request on a fresh connection (no keep-alive pool): `connected` resolves once the TCP
 * connection is up, `response` with the answer, or rejects with the socket error.
 */
export function freshRequest(
  url: string,
  path: string,
  { method = 'GET', key, body }: { method?: string; key?: string; body?: unknown } = {},
): { connected: Promise<void>; response: Promise<RawResponse> } {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const request = http.request(`${url}${path}`, { method, agent: false, timeout: 10_000, headers });
  const { connected, response } = track(request, 'request timed out');
  request.end(payload);
  return { connected, response };
}

/** A Sandbox factory for one test file: every sandbox it made is cleaned up after each test. */
export function sandboxPerTest(): () => Sandbox {
  const sandboxes: Sandbox[] = [];
  afterEach(async () => {
    await Promise.allSettled(sandboxes.splice(0).map((s) => s.cleanup()));
  });
  return () => {
    const created = new Sandbox();
    sandboxes.push(created);
    return created;
  };
}

/** A table printed by the CLI, split into cells by its header's column positions. */
export function parseColumns(stdout: string, titles: readonly string[]): string[][] {
  const [header = '', ...lines] = stdout.trimEnd().split('\n');
  const starts = titles.map((title) => header.indexOf(title));
  for (const [i, start] of starts.entries()) {
    if (start < 0) throw new Error(`column ${titles[i]} missing from the header: ${header}`);
  }
  return lines.map((line) => starts.map((start, i) => line.slice(start, starts[i + 1]).trim()));
}
