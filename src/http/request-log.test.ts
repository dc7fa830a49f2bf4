import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../logger.js';
import { getLineWriter } from './request-log.js';

/** A logger as the service makes it (createLogger), writing its lines into `lines`. */
function logger(level = 'info', format: 'json' | 'pretty' = 'json') {
  const lines: string[] = [];
  const log = createLogger(level, { write: (line: string) => lines.push(line) }, format);
  return { lines, log };
}

/** The line log.info makes of a fast-path GET's fields. */
function byPino(
  log: ReturnType<typeof createLogger>,
  lines: string[],
  fields: [string, string, string, number, string],
): string {
  const [requestId, route, url, latencyMs, account] = fields;
  log.info({ requestId, method: 'GET', route, url, status: 200, latencyMs, account }, 'request');
  return lines.pop() ?? '';
}

const withoutTime = (line: string) => line.replace(/,"time":"[^"]*"/, '');

describe('getLineWriter', () => {
  it.each([
    [
      'a plain line',
      [
        '1b4e28ba-2fa1-4d2b-883f-0016d3cca427',
        '/api/connectors/:id',
        '/api/connectors/AbC_-9xyz',
        0.42,
        'acme',
      ],
    ],
    ['a whole latency', ['req.1:2', '/api/connectors/:id', '/api/connectors/x', 3, 'bench']],
    ['a quote in the account', ['id-1', '/api/connectors/:id', '/api/connectors/x', 1.5, 'ac"me']],
    ['a backslash and non-ASCII', ['id-1', '/api/connectors/:id', '/api/connectors/x', 1.5, 'ä\\cme']],
    ['a control character', ['id-1', '/api/connectors/:id', '/api/connectors/x', 1.5, 'a\ncme']],
    ['a list page', ['id-2', '/api/connectors', '/api/connectors?max-results=50', 12.25, 'acme']],
  ] as const)('writes the bytes log.info writes: %s', (_, fields) => {
    const { lines, log } = logger();
    const write = getLineWriter(log);
    const info = vi.spyOn(log, 'info');
    const [requestId, route, url, latencyMs, account] = fields;
    write(requestId, route, url, latencyMs, account);
    // Made as text unless a string is not plain ASCII without quotes or backslashes.
    expect(info).toHaveBeenCalledTimes(/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(account) ? 0 : 1);
    info.mockRestore();
    const fast = lines.pop() ?? '';
    const slow = byPino(log, lines, [...fields]);
    expect(withoutTime(fast)).toBe(withoutTime(slow));
    expect(fast).toMatch(
      /^\{"level":30,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","pid":\d+,"hostname":/,
    );
    expect(fast.endsWith('"msg":"request"}\n')).toBe(true);
    expect(JSON.parse(fast)).toMatchObject({
      requestId: fields[0],
      account: fields[4],
      latencyMs: fields[3],
    });
  });

  it('writes nothing when info is off, and follows a level changed later', () => {
    const { lines, log } = logger('warn');
    const write = getLineWriter(log);
    write('id', '/api/connectors/:id', '/api/connectors/x', 1, 'acme');
    expect(lines).toEqual([]);
    log.level = 'info';
    write('id', '/api/connectors/:id', '/api/connectors/x', 1, 'acme');
    expect(lines).toHaveLength(1);
  });

  it('goes through log.info with pretty lines, and with a child logger’s bindings', () => {
    const pretty = logger('info', 'pretty');
    getLineWriter(pretty.log)('id-3', '/api/connectors/:id', '/api/connectors/x', 1, 'acme');
    expect(pretty.lines).toHaveLength(1);
    expect(pretty.lines[0]).toMatch(/INFO.*request/);
    const { lines, log } = logger();
    const child = log.child({ component: 'api' });
    getLineWriter(child)('id-4', '/api/connectors/:id', '/api/connectors/x', 1, 'acme');
    const fast = lines.pop() ?? '';
    const slow = byPino(child, lines, ['id-4', '/api/connectors/:id', '/api/connectors/x', 1, 'acme']);
    expect(withoutTime(fast)).toBe(withoutTime(slow));
    expect(fast).toContain('"component":"api"');
  });
});
