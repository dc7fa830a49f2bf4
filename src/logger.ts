import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import sonicBoom, { type SonicBoom as SonicBoomStream } from 'sonic-boom';
import type { LogFormat } from './config.js';

/** LOG_FORMAT when unset: readable lines for a person at a terminal, JSON for everything else. */
export function defaultLogFormat(output: { readonly isTTY?: boolean } = process.stdout): LogFormat {
  return output.isTTY ? 'pretty' : 'json';
}

/**
 * sonic-boom is CommonJS without named exports for ESM: its module.exports is the class, which also
 * holds itself as `SonicBoom` (what the types call the default export's). Imported, not required
 * at run time, so that the bundle has it compiled with the rest (and the one copy pino uses).
 */
const { SonicBoom } = sonicBoom;

/** The standard-output destination of each logger made here, so that shutdown can flush it. */
const destinations = new WeakMap<Logger, StandardOutput>();
/** How long shutdown waits for buffered log lines to be written. */
const FLUSH_WAIT_MS = 2_000;
/** Destinations whose last write failed (until one succeeds). */
const refusing = new WeakSet<object>();

/** 10000-01-01T00:00:00Z: from here on toISOString writes a six-digit year. */
const LAST_FIXED_FORM_MS = 253_402_300_800_000;
// The millisecond and the second of the last timestamp made, and what was made of them.
let timeMs = Number.NaN;
let timeField = '';
let secondOf = Number.NaN;
let secondPrefix = '';

/**
 * pino's isoTime, `,"time":"<Date.toISOString()>"`, the same bytes, made once per millisecond (a
 * busy turn of the event loop logs many requests in the same one) and otherwise from the second's
 * start kept as text: a Date and its toISOString were ~1 µs of every request line.
 */
export function isoTime(now = Date.now()): string {
  if (now === timeMs) return timeField;
  // Outside the years 1970 to 9999 toISOString's form differs: made as pino makes it.
  if (!(now >= 0 && now < LAST_FIXED_FORM_MS)) return `,"time":"${new Date(now).toISOString()}"`;
  const second = Math.floor(now / 1000);
  if (second !== secondOf) {
    secondOf = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  timeMs = now;
  timeField = `,"time":"${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  return timeField;
}

/**
 * The service's pino logger, writing JSON lines, or with `pretty` readable lines (LOG_FORMAT).
 * Request lines carry no headers or bodies in the first place; the redaction list is a second line
 * of defence should a future log call pass one in (it applies before either format).
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  const options: LoggerOptions = {
    level,
    timestamp: isoTime,
    redact: {
      paths: [
        'authorization',
        'headers.authorization',
        'req.headers.authorization',
        'request.headers.authorization',
        'params',
        'body',
        'password',
        'apiKey',
        'secret',
        'integrationCode',
      ],
      censor: '[redacted]',
    },
  };
  if (destination) return pino(options, format === 'pretty' ? prettyLines(destination) : destination);
  const stdout = standardOutput();
  const logger = pino(options, format === 'pretty' ? prettyLines(stdout.lines) : stdout.lines);
  destinations.set(logger, stdout);
  return logger;
}

/** What pino-pretty makes of a line: a time, the level, the message, then the other fields on the same line. */
export const PRETTY_OPTIONS: PrettyOptions = {
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname',
};

/**
 * The same lines, made readable by pino-pretty's formatter, in this process: each line is handed
 * to the destination as the log call writes it, like a JSON line (pino-pretty as a transport runs
 * in a worker thread, which exit and the shutdown flush do not wait for). pino-pretty (the pino
 * project's own formatter: levels, times, errors with their stacks, colours where the terminal has
 * them and NO_COLOR is unset) is loaded only here, from node_modules: loading it took 190 to 210 ms
 * on a busy 2-core machine, which a JSON log, the production case, does not pay.
 */
function prettyLines(output: DestinationStream): DestinationStream {
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  const prettify = prettyFactory(PRETTY_OPTIONS);
  return { write: (line: string) => output.write(prettify(line)) };
}

/**
 * Writes out every buffered line (shutdown calls it after the last one): resolves once standard
 * output took them, or after 2 s when it refuses writes (a full disk: those lines are lost).
 */
export function flushLogger(logger: Logger): Promise<void> {
  const stdout = destinations.get(logger);
  if (!stdout) return Promise.resolve();
  stdout.lines.handOver();
  const { stream } = stdout;
  if (refusing.has(stream)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FLUSH_WAIT_MS);
    timer.unref();
    try {
      stream.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/** How often, at most, a full or broken log destination is reported on stderr. */
const REPORT_EVERY_MS = 60_000;
/** What is kept in memory while standard output refuses writes; later lines are dropped. */
const MAX_BUFFERED = 4 * 1024 * 1024;

/** Standard output: the stream, and what the logger writes to (the lines of each turn or 5 ms, batched). */
interface StandardOutput {
  readonly stream: SonicBoomStream;
  readonly lines: TurnBatches;
}

/** A destination that hands what is written to it on once a turn of the event loop. */
export interface TurnBatches {
  write(line: string): boolean;
  /** Hands over what was written this turn now (shutdown, exit). */
  handOver(): void;
}

/** The most characters of lines held back: more are handed on at once. */
const MAX_BATCH = 16 * 1024;
/** Lines are handed on at most once in this many milliseconds (or at 16 KiB). */
const HAND_OVER_EVERY_MS = 5;

/**
 * The lines written to `stream`, handed on in one write at the end of the turn of the event loop
 * that wrote them (setImmediate), or, within 5 ms of the last hand-over, when those 5 ms are up;
 * and as soon as 16 KiB of them wait. A write per line (a call into libuv's thread pool, and its
 * completion) was ~8 µs of each request's CPU; a write per turn still cost a round trip through the
 * thread pool (two context switches on the server's core, and a wake-up of the reader) for every
 * few requests of a busy server, which now makes at most one write per 5 ms or 16 KiB. An idle
 * server writes each line at the end of its turn, as before; a line waits at most 5 ms; the 4 MiB
 * bound is the stream's, as before; shutdown and exit hand over what waits (handOver).
 */
export function turnBatches(stream: Pick<SonicBoomStream, 'write'>): TurnBatches {
  let pending: string[] = [];
  let size = 0;
  let scheduled = false;
  /** When lines were last handed on (performance.now()). */
  let handedAt = Number.NEGATIVE_INFINITY;
  const handOver = () => {
    if (pending.length === 0) return;
    handedAt = performance.now();
    const lines = Buffer.from(pending.join(''));
    pending = [];
    size = 0;
    // As bytes (the stream's `buffer` mode, which its types do not describe): as a string,
    // sonic-boom measured the UTF-8 length of the string it appends to on every write, ~5 % of a
    // GET's CPU.
    stream.write(lines as unknown as string);
  };
  const atTurnEnd = () => {
    scheduled = false;
    handOver();
  };
  return {
    write(line) {
      pending.push(line);
      size += line.length;
      if (size >= MAX_BATCH) handOver();
      else if (!scheduled) {
        scheduled = true;
        const wait = handedAt + HAND_OVER_EVERY_MS - performance.now();
        if (wait > 0) setTimeout(atTurnEnd, wait);
        else setImmediate(atTurnEnd);
      }
      return true;
    },
    handOver,
  };
}

/** How many lines a chunk of them holds. */
function lineCount(chunk: unknown): number {
  if (!Buffer.isBuffer(chunk)) return 1;
  let count = 0;
  for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) count++;
  return Math.max(1, count);
}

/**
 * Standard output, written asynchronously: a line goes into a buffer and the buffer is written by
 * libuv's thread pool while the event loop goes on (written synchronously, the request log's
 * `write` was ~10 % of a request); the lines of one turn of the event loop, or of up to 5 ms on
 * a busy server, go in together (turnBatches). The buffer is bounded: up to 4 MiB wait in memory while the
 * destination is slow or refuses writes (the disk holding a redirected log is full, the pipe is
 * gone), lines beyond that are dropped (and counted), and the service keeps answering. Nothing is
 * lost on a normal exit: shutdown waits for the buffer (flushLogger), and any other exit writes
 * what is left synchronously.
 */
function standardOutput(): StandardOutput {
  // sonic-boom (pino's own destination) made directly: pino.destination() also flushes on
  // 'beforeExit', and against a destination that refuses writes that flush failed, and was tried
  // again, for ever: the process never exited.
  const stream = new SonicBoom({ fd: 1, sync: false, maxLength: MAX_BUFFERED, contentMode: 'buffer' });
  const lines = turnBatches(stream);
  process.on('exit', () => {
    lines.handOver();
    // Not while the destination refuses writes: sonic-boom's flushSync retries those for ever.
    if (refusing.has(stream)) return;
    try {
      stream.flushSync();
    } catch {
      // A write is still in flight, or the destination just failed: nothing more to do.
    }
  });
  stream.on('write', () => refusing.delete(stream));
  let dropped = 0;
  let reportedAt = 0;
  const report = (cause: string) => {
    const now = Date.now();
    if (now - reportedAt < REPORT_EVERY_MS) return;
    reportedAt = now;
    try {
      process.stderr.write(
        `plugboard: standard output refuses writes (${cause}); log lines are held (up to 4 MiB) and then dropped; ${dropped} dropped so far\n`,
      );
    } catch {
      // stderr may be on the same full disk: nothing more to do.
    }
  };
  stream.on('drop', (chunk: unknown) => {
    dropped += lineCount(chunk);
    report('buffer full');
  });
  stream.on('error', (error: NodeJS.ErrnoException) => {
    refusing.add(stream);
    report(error.code ?? error.message);
  });
  return { stream, lines };
}
