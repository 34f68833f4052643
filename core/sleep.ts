import { setTimeout as timersSleep } from 'node:timers/promises';

/** Sleeps, but returns at once when `signal` aborts, so stop() never waits out a back-off. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await timersSleep(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
}
