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
      ],
      censor: '[redacted]',
    },
  };
  return pino(options, destination ?? standardOutput());
}

/** How often, at most, a full or broken log destination is reported on stderr. */
const REPORT_EVERY_MS = 60_000;

/**
 * Standard output, written synchronously as pino does by default, but a failed write (the disk
 * holding a redirected log is full, the pipe is gone) drops that line instead of ending the
 * process: the service keeps answering, and logs again once the destination takes writes.
 */
function standardOutput(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: true });
  let dropped = 0;
  let reportedAt = 0;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    dropped += 1;
    const now = Date.now();
    if (now - reportedAt < REPORT_EVERY_MS) return;
    reportedAt = now;
    try {
      process.stderr.write(
        `plugboard: log lines are being dropped: standard output refused a write (${error.code ?? error.message}); ${dropped} dropped so far\n`,
      );
    } catch {
      // stderr may be on the same full disk: nothing more to do.
    }
  });
  return stream;
}
