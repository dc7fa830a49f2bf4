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
  return destination ? pino(options, destination) : pino(options);
}
