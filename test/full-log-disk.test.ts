/**
 * A full disk under the log: the server's stdout refuses every write (ENOSPC, as /dev/full does).
 * It used to end the process ("shutting down after an uncaught error"); log lines are dropped now
 * and the API keeps answering.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, sleep, waitFor, withTimeout } from './process-helpers.js';

const KEY = 'pb_full-disk-test-key-0123456789';

function freePort(): Promise<number> {
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

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe.skipIf(!existsSync('/dev/full'))('a log destination that refuses writes', () => {
  it('drops log lines, says so once on stderr, and keeps serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugboard-full-'));
    const port = await freePort();
    const full = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: dir,
      stdio: ['ignore', full, 'pipe'],
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: `sqlite:${join(dir, 'p.db')}`,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        PLUGBOARD_API_KEY: KEY,
      },
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    cleanups.push(() => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const base = `http://127.0.0.1:${port}`;
    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(5_000),
      });
    await waitFor(
      'the server to answer /healthz',
      async () => {
        if (child.exitCode !== null) throw new Error(`the server exited ${child.exitCode}: ${stderr}`);
        return (await call('/healthz').catch(() => undefined))?.ok ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    for (let i = 0; i < 20; i++) {
      const created = await call('/api/connectors', {
        method: 'POST',
        body: JSON.stringify({ type: 'slack', name: `while full ${i}` }),
      });
      expect(created.status).toBe(200);
    }
    await sleep(100);
    expect(child.exitCode).toBeNull();
    const listed = (await (await call('/api/connectors?max-results=100')).json()) as unknown[];
    expect(listed).toHaveLength(20);
    expect(stderr).toMatch(/log lines are being dropped: standard output refused a write \(ENOSPC\)/);
    // Reported once a minute at most, not once per line.
    expect(stderr.match(/log lines are being dropped/g)).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await withTimeout(exited, 10_000, 'the server to exit')).toBe(0);
  });
});
