import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { LogFormat } from './config.js';

/** LOG_FORMAT when unset: readable lines for a person at a terminal, JSON for everything else. */
export function defaultLogFormat(output: { readonly isTTY?: boolean } = process.stdout): LogFormat {
  return output.isTTY ? 'pretty' : 'json';
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
    timestamp: pino.stdTimeFunctions.isoTime,
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
      ],
      censor: '[redacted]',
    },
  };
  const output = destination ?? standardOutput();
  return pino(options, format === 'pretty' ? prettyLines(output) : output);
}

/** What pino-pretty makes of a line: a time, the level, the message, then the other fields on the same line. */
export const PRETTY_OPTIONS: PrettyOptions = {
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname',
};

/**
 * The same lines, made readable by pino-pretty's formatter, in this process and synchronously: a
 * line is written before the log call returns, as in JSON, so nothing is lost when the process
 * exits (pino-pretty as a transport runs in a worker thread). pino-pretty (the pino project's
 * own formatter: levels, times, errors with their stacks, colours where the terminal has them and
 * NO_COLOR is unset) is loaded only here, from node_modules: loading it took 190 to 210 ms on a
 * busy 2-core machine, which a JSON log, the production case, does not pay.
 */
function prettyLines(output: DestinationStream): DestinationStream {
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  const prettify = prettyFactory(PRETTY_OPTIONS);
  return { write: (line: string) => output.write(prettify(line)) };
}

/** How often, at most, a full or broken log destination is reported on stderr. */
const REPORT_EVERY_MS = 60_000;
/** What is kept in memory while standard output refuses writes; later lines are dropped. */
const MAX_BUFFERED = 4 * 1024 * 1024;

/**
 * Standard output, written synchronously as pino does by default, but a failed write (the disk
 * holding a redirected log is full, the pipe is gone) does not end the process: up to 4 MiB wait in
 * memory for the destination to take writes again, lines beyond that are dropped (and counted), and
 * the service keeps answering.
 */
function standardOutput(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: true, maxLength: MAX_BUFFERED });
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
  stream.on('drop', () => {
    dropped += 1;
    report('buffer full');
  });
  stream.on('error', (error: NodeJS.ErrnoException) => report(error.code ?? error.message));
  return stream;
}
