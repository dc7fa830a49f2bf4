import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, defaultLogFormat, isoTime, turnBatches } from './logger.js';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('json: one JSON object a line, the default', () => {
    const { lines, stream } = sink();
    createLogger('info', stream).info({ route: '/api/connectors', status: 200 }, 'request');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 30, msg: 'request', status: 200 });
  });

  it('pretty: a readable line with the time, level, message and fields, written before the call returns', () => {
    const { lines, stream } = sink();
    const logger = createLogger('info', stream, 'pretty');
    logger.info({ route: '/api/connectors', status: 200 }, 'request');
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (\S*)INFO(\S*): (\S*)request/);
    expect(line).toContain('"route":"/api/connectors"');
    expect(line).toContain('"status":200');
    expect(line.trimEnd().split('\n')).toHaveLength(1);
    expect(() => JSON.parse(line)).toThrow();
  });

  it('pretty: errors keep their message, and redaction applies as in JSON', () => {
    const { lines, stream } = sink();
    const logger = createLogger('info', stream, 'pretty');
    logger.error(
      { err: new Error('the disk is full'), authorization: 'Bearer pb_secret-0123456789' },
      'failed',
    );
    const text = lines.join('');
    expect(text).toContain('ERROR');
    expect(text).toContain('the disk is full');
    expect(text).not.toContain('pb_secret');
    expect(text).toContain('[redacted]');
  });

  it('LOG_FORMAT unset: pretty on a terminal, else json', () => {
    expect(defaultLogFormat({ isTTY: true })).toBe('pretty');
    expect(defaultLogFormat({ isTTY: false })).toBe('json');
    expect(defaultLogFormat({})).toBe('json');
  });
});

describe('isoTime', () => {
  it("makes pino's isoTime bytes: each millisecond of a second, the next second, again, out of range", () => {
    const made = (now: number) => `,"time":"${new Date(now).toISOString()}"`;
    expect(isoTime()).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
    expect(pino.stdTimeFunctions.isoTime()).toHaveLength(isoTime().length);
    const start = Date.parse('2026-12-04T23:59:58.000Z');
    for (let now = start; now < start + 3_000; now += 1) expect(isoTime(now)).toBe(made(now));
    for (const now of [
      0,
      999,
      1_000,
      start,
      start,
      start + 1,
      start,
      253_402_300_799_999,
      253_402_300_800_000,
      -1,
    ])
      expect(isoTime(now)).toBe(made(now));
  });
});

describe('turnBatches', () => {
  /** A stream that keeps each chunk handed to it, as text. */
  function chunks() {
    const written: string[] = [];
    return { written, stream: { write: (chunk: string) => written.push(String(chunk)) > 0 } };
  }
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('hands the lines of a turn on in one write at its end, the same bytes in order', async () => {
    const { written, stream } = chunks();
    const lines = turnBatches(stream);
    lines.write('{"a":1}\n');
    lines.write('{"b":"é"}\n');
    expect(written).toEqual([]);
    await nextTurn();
    expect(written).toEqual(['{"a":1}\n{"b":"é"}\n']);
  });

  it('within 5 ms of a write, holds the next lines until the 5 ms are up; an idle one goes at the end of its turn', async () => {
    const { written, stream } = chunks();
    const lines = turnBatches(stream);
    lines.write('1\n');
    await nextTurn();
    expect(written).toEqual(['1\n']);
    const handedAt = performance.now();
    lines.write('2\n');
    await nextTurn();
    lines.write('3\n');
    await nextTurn();
    expect(written).toHaveLength(performance.now() - handedAt >= 5 ? 2 : 1);
    await wait(10);
    expect(written.join('')).toBe('1\n2\n3\n');
    expect(written).toHaveLength(2);
    await wait(10);
    lines.write('4\n');
    await nextTurn();
    expect(written).toEqual(['1\n', '2\n3\n', '4\n']);
  });

  it('hands over at once when 16 KiB wait, and on handOver (shutdown, exit)', async () => {
    const { written, stream } = chunks();
    const lines = turnBatches(stream);
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < 16; i++) lines.write(line);
    expect(written).toEqual([line.repeat(16)]);
    lines.write('last\n');
    lines.handOver();
    expect(written).toEqual([line.repeat(16), 'last\n']);
    await wait(10);
    expect(written).toHaveLength(2);
  });
});
