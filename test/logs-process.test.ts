/**
 * Log formats of the real `plugboard serve` process (LOG_FORMAT), and the first key's banner kept
 * out of the log stream. Needs `npm run build` first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, printedKeys, sandboxPerTest, waitFor, withTimeout } from './process-helpers.js';

const sandbox = sandboxPerTest();
const isJson = (line: string) => {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
};
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('plugboard serve logs', () => {
  it('LOG_FORMAT=pretty: readable lines on stdout, the first key on stderr only', async () => {
    const box = sandbox();
    const server = box.spawn(['serve'], { LOG_FORMAT: 'pretty' });
    await waitFor(
      'the server to be ready',
      () => (/Plugboard is ready/.test(server.stdout) ? true : undefined),
      {
        timeoutMs: 10_000,
      },
    );
    const lines = server.stdout.split('\n').filter((line) => line !== '');
    expect(lines.some((line) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Plugboard is ready/.test(line))).toBe(true);
    expect(lines.filter(isJson)).toEqual([]);
    const [key, ...more] = printedKeys(server.stderr);
    expect(key).toMatch(/^pb_/);
    expect(more).toEqual([]);
    expect(server.stdout).not.toContain(key);
    server.signal('SIGTERM');
    expect((await server.waitForExit()).code).toBe(0);
  });

  /** What `plugboard serve` shows on a terminal (script(1) runs it on a pseudo-terminal) until it is ready. */
  async function onTerminal(env: Record<string, string>): Promise<string[]> {
    const box = sandbox();
    const child = spawn('script', ['-qfec', `"${process.execPath}" "${BIN}" serve`, '/dev/null'], {
      env: box.env({ PLUGBOARD_API_KEY: 'logs-test-key-0123456789', ...env }),
      cwd: box.dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let shown = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      shown += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await waitFor('the server to be ready', () => (/Plugboard is ready/.test(shown) ? true : undefined), {
        timeoutMs: 10_000,
      });
      return shown.split(/\r?\n/).filter((line) => line.trim() !== '');
    } finally {
      // script passes SIGTERM on to the server, which stops with grace.
      child.kill('SIGTERM');
      await withTimeout(exited, 10_000, 'script and the server to exit');
    }
  }

  it.skipIf(!hasScript)('LOG_FORMAT unset, stdout a terminal: readable lines, in colour', async () => {
    const lines = await onTerminal({});
    const green = (text: string) => `\u001b[32m${text}\u001b[39m`;
    const ready = lines.find((line) => line.includes('Plugboard is ready')) ?? '';
    expect(ready).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] /);
    expect(ready).toContain(`${green('INFO')}: `);
    expect(lines.filter(isJson)).toEqual([]);
  });

  it.skipIf(!hasScript)('LOG_FORMAT=json on a terminal: JSON all the same', async () => {
    const lines = await onTerminal({ LOG_FORMAT: 'json' });
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.filter((line) => !isJson(line))).toEqual([]);
  });
});
