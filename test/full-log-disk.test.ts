/**
 * A full disk under the log: the server's stdout refuses every write (ENOSPC, as /dev/full does).
 * It used to end the process ("shutting down after an uncaught error"); lines wait in a bounded
 * buffer (then are dropped) now, and the API keeps answering.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, freePort, sleep, waitFor, withTimeout } from './process-helpers.js';

const KEY = 'pb_full-disk-test-key-0123456789';

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
      expect(created.status).toBe(201);
    }
    await sleep(100);
    expect(child.exitCode).toBeNull();
    const listed = (await (await call('/api/connectors?max-results=100')).json()) as unknown[];
    expect(listed).toHaveLength(20);
    expect(stderr).toMatch(
      /standard output refuses writes \(ENOSPC\); log lines are held \(up to 4 MiB\) and then dropped/,
    );
    // Reported once a minute at most, not once per line.
    expect(stderr.match(/standard output refuses writes/g)).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await withTimeout(exited, 10_000, 'the server to exit')).toBe(0);
  });

  it('holds at most 4 MiB of refused lines in memory, not every line (it held 287 MiB per million)', async () => {
    const logger = fileURLToPath(new URL('../dist/logger.js', import.meta.url));
    // 300,000 lines of ~300 bytes: about 90 MB if every refused line were kept.
    const script = `
      const { createLogger } = await import(${JSON.stringify(logger)});
      const log = createLogger('info');
      const line = 'x'.repeat(240);
      for (let i = 0; i < 300000; i++) log.info({ i, line }, 'hello');
      globalThis.gc();
      process.stderr.write('heap ' + process.memoryUsage().heapUsed + '\\n');
    `;
    const full = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      stdio: ['ignore', full, 'pipe'],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const code = await withTimeout(
      new Promise<number | null>((resolve) => child.once('close', resolve)),
      60_000,
      'the logging process to finish',
    );
    expect(code, stderr).toBe(0);
    const heap = Number(/heap (\d+)/.exec(stderr)?.[1]);
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThan(32 * 1024 * 1024);
    expect(stderr).toMatch(/then dropped; \d+ dropped so far/);
  });
});
