import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

/**
 * The service's pino logger. Request lines carry no headers or bodies in the first place; the
 * redaction list is a second line of defence should a future log call pass one in.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
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
        'integrationCode',
      ],
      censor: '[redacted]',
    },
  };
  return pino(options, destination ?? standardOutput());
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
