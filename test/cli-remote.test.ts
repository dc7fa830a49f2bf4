/**
 * The CLI's HTTP verbs (`connectors …`, `types`, `login`) against a real `plugboard serve`, and the
 * CLI's manners: help for every command without side effects, --version, one-line errors, exit
 * codes, a database that does not exist, a new account only on request. Needs `npm run build`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';
import { BIN, type Sandbox, sandboxPerTest } from './process-helpers.js';

const sandbox = sandboxPerTest();
const API_KEY = 'pb_cli-remote-test-key-0123456789';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `plugboard ARGS` in the sandbox's folder, with stdin fed from `input`. */
function cli(
  box: Sandbox,
  args: readonly string[],
  env: Record<string, string> = {},
  input = '',
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: box.dir,
      env: { ...box.env(), XDG_CONFIG_HOME: join(box.dir, 'config'), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('plugboard connectors and types over HTTP', () => {
  it('creates (secret from a file and from stdin), lists, gets, updates, checks and deletes; --json; exit codes', async () => {
    const box = sandbox();
    const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const env = { PLUGBOARD_URL: server.url, PLUGBOARD_TOKEN: API_KEY };

    const types = await cli(box, ['types'], env);
    expect(types.code, types.stderr).toBe(0);
    expect(types.stdout).toMatch(/^TYPE\s+NAME\s+PARAMS/);
    expect(types.stdout).toMatch(/jira\s+Jira\s+url, email, password \(secret\)/);

    const secretFile = join(box.dir, 'password.txt');
    writeFileSync(secretFile, 'file-secret\n', { mode: 0o600 });
    const created = await cli(
      box,
      [
        'connectors',
        'create',
        '--type',
        'jira',
        '--name',
        'Jira prod',
        '--param',
        'url=https://acme.atlassian.net',
        '--param',
        'email=ops@acme.example',
        '--param',
        `password=@${secretFile}`,
        '--json',
      ],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toBe('');
    const jira = JSON.parse(created.stdout) as { id: string; params: Record<string, string> };
    expect(jira.params.password).toBe('file-secret');

    const fromStdin = await cli(
      box,
      ['connectors', 'create', '--type', 'github', '--name', 'gh', '--param', 'apiKey=-'],
      env,
      'stdin-secret\n',
    );
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.stdout).toMatch(/^Created github connector \S+ \(gh\)\.$/m);

    const list = await cli(box, ['connectors', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+TYPE\s+NAME\s+UPDATED\s+LAST CHECK$/);
    expect(list.stdout).toContain('Jira prod');
    expect(list.stdout).not.toContain('stdin-secret');
    const listed = JSON.parse((await cli(box, ['connectors', 'list', '--json'], env)).stdout) as {
      name: string;
    }[];
    expect(listed.map((c) => c.name)).toEqual(['Jira prod', 'gh']);

    const shown = await cli(box, ['connectors', 'get', '--name', 'gh'], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/params\.apiKey\s+\*{8} \(secret/);
    expect(shown.stdout).not.toContain('stdin-secret');

    const updated = await cli(box, ['connectors', 'update', jira.id, '--name', 'Jira', '--json'], env);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ name: 'Jira', params: { password: 'file-secret' } });

    // The check reaches no Jira here: it runs, and says so with exit 1.
    const checked = await cli(box, ['connectors', 'check', jira.id], env);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toMatch(/^(failed|unreachable): /);

    const deleted = await cli(box, ['connectors', 'delete', jira.id], env);
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await cli(box, ['connectors', 'get', jira.id], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^plugboard: .*\(HTTP 404 NOT_FOUND\)\n$/);

    const invalid = await cli(
      box,
      [
        'connectors',
        'create',
        '--type',
        'jira',
        '--name',
        'bad',
        '--param',
        'url=nope',
        '--param',
        'email=e',
        '--param',
        'password=-',
      ],
      env,
      'x',
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/HTTP 400 VALIDATION_FAILED\)\n {2}\/params\/url: /);

    // A required secret that is not given, without a terminal to ask on: a usage error naming the ways.
    const unasked = await cli(box, ['connectors', 'create', '--type', 'github', '--name', 'gh2'], env);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toMatch(/apiKey .*is needed: give it as NAME=@FILE or NAME=- \(stdin\)/);

    const wrongKey = await cli(box, ['types'], { ...env, PLUGBOARD_TOKEN: 'pb_wrong-key-0123456789abcdef' });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/HTTP 401/);
  }, 120_000);

  it('login saves the server and key 0600 after checking them; later commands use them', async () => {
    const box = sandbox();
    const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const refused = await cli(box, ['login', '--url', server.url], {}, 'pb_not-the-key-0123456789abcdef\n');
    expect(refused.code).toBe(1);
    const file = join(box.dir, 'config', 'plugboard', 'config.json');
    expect(existsSync(file)).toBe(false);

    const login = await cli(box, ['login', '--url', server.url], {}, `${API_KEY}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: server.url, token: API_KEY });
    const list = await cli(box, ['connectors', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toBe('no connectors\n');
  }, 60_000);
});

describe('plugboard deliveries over HTTP', () => {
  it('lists, shows and retries a delivery that failed', async () => {
    const box = sandbox();
    const server = await box.startServer({ PLUGBOARD_API_KEY: API_KEY });
    const env = { PLUGBOARD_URL: server.url, PLUGBOARD_TOKEN: API_KEY };
    // A webhook on loopback: outbound calls to it are refused, so the delivery fails.
    const created = await server.call('POST', '/api/connectors', {
      key: API_KEY,
      body: { type: 'dynamic', name: 'hook', params: { url: 'http://127.0.0.1:9/hook' } },
    });
    expect(created.status).toBe(201);
    const connector = created.body as { id: string };
    const queued = await server.call('POST', `/api/connectors/${connector.id}/deliveries`, {
      key: API_KEY,
      body: { event: { eventType: 'ALERT', summary: 'disk full', alertKey: 'disk-1' } },
    });
    expect(queued.status, JSON.stringify(queued.body)).toBeLessThan(300);
    const id = (queued.body as { id: string }).id;
    let state = '';
    for (let i = 0; i < 40 && state !== 'failed'; i++) {
      const listed = await cli(box, ['deliveries', 'list', '--connector', connector.id, '--json'], env);
      expect(listed.code, listed.stderr).toBe(0);
      state =
        (JSON.parse(listed.stdout) as { id: string; state: string }[]).find((d) => d.id === id)?.state ?? '';
      if (state !== 'failed') await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(state).toBe('failed');
    const table = await cli(box, ['deliveries', 'list', '--state', 'failed'], env);
    expect(table.stdout).toMatch(
      new RegExp(`^ID\\s+CONNECTOR\\s+EVENT\\s+STATE[^\\n]*\\n${id}\\s+${connector.id}\\s+ALERT\\s+failed`),
    );
    const shown = await cli(box, ['deliveries', 'get', id], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/event\s+ALERT: disk full/);
    expect(shown.stdout).toMatch(/#\s+STARTED\s+OUTCOME\s+HTTP\s+MESSAGE/);
    const retried = await cli(box, ['deliveries', 'retry', id], env);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`^Queued delivery ${id} again`));
    const bad = await cli(box, ['deliveries', 'list', '--state', 'lost'], env);
    expect(bad.code).toBe(2);
  }, 120_000);
});

describe('the CLI manners', () => {
  it('prints help for bare plugboard and every command --help, without doing anything', async () => {
    const box = sandbox();
    const bare = await cli(box, []);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^Usage: plugboard <command>/);
    const commands = [
      ['serve'],
      ['migrate'],
      ['keys', 'create'],
      ['keys', 'list'],
      ['audit'],
      ['secrets', 'rotate'],
      ['copy'],
      ['login'],
      ['connectors', 'create'],
      ['types'],
    ];
    for (const command of commands) {
      const result = await cli(box, [...command, '--help']);
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout, command.join(' ')).toMatch(/^Usage: plugboard /);
      expect(result.stderr, command.join(' ')).toBe('');
    }
    // migrate --help created no database; serve --help started no server.
    expect(existsSync(join(box.dir, 'data'))).toBe(false);
    expect(existsSync(box.dbPath)).toBe(false);
    const version = await cli(box, ['--version']);
    expect(version.stdout).toBe(`plugboard ${VERSION}\n`);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  }, 120_000);

  it('one-line errors with a hint and exit 2; admin commands refuse a database that does not exist', async () => {
    const box = sandbox();
    for (const args of [['frobnicate'], ['keys', 'create', '--bogus'], ['connectors', 'list']]) {
      const result = await cli(box, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(2);
      expect(result.stderr, args.join(' ')).toMatch(/^plugboard: .+\n\(usage: plugboard (\w+ )?--help\)\n$/);
    }
    for (const args of [
      ['keys', 'list'],
      ['audit'],
      ['keys', 'create', '--account', 'a', '--role', 'read'],
    ]) {
      const result = await cli(box, args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain(`there is no database at ${box.dbPath}`);
      expect(result.stderr).toContain('DATABASE_URL');
    }
    expect(existsSync(box.dbPath)).toBe(false);
  }, 60_000);

  it('keys create for an account that does not exist needs --new-account', async () => {
    const box = sandbox();
    expect((await cli(box, ['migrate'])).code).toBe(0);
    const first = await cli(box, ['keys', 'create', '--account', 'acme', '--role', 'write', '--new-account']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('Creating the new account acme.');
    const typo = await cli(box, ['keys', 'create', '--account', 'acmee', '--role', 'read']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(
      /there is no account acmee, so this would create a new account.*--new-account.*accounts: acme/,
    );
    expect(typo.stdout).not.toMatch(/pb_/);
    const again = await cli(box, ['keys', 'create', '--account', 'acme', '--role', 'read']);
    expect(again.code, again.stderr).toBe(0);
  }, 60_000);
});
