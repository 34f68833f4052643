import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

// Anything that may carry a secret is censored wherever it appears in a log object.
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'adminToken',
  'password',
  '*.password',
];

export function loggerOptions(component: string, level = process.env.MESHFED_LOG_LEVEL ?? 'info'): LoggerOptions {
  return {
    level,
    base: { component },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(component: string, level?: string): Logger {
  return pino(loggerOptions(component, level));
}
