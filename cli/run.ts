import { ConfigError } from '../core/errors.js';

/**
 * Runs a command's action: a ConfigError (bad flag, unreachable dependency)
 * ends the process with one clear line and exit code 2 or 1, never a stack trace.
 */
export function runAction<A extends unknown[]>(program: string, action: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    try {
      await action(...args);
    } catch (error) {
      if (error instanceof ConfigError) {
        console.error(`${program}: ${error.message}`);
        process.exit(2);
      }
      console.error(`${program}: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    }
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
