/**
 * Retries `check` until it stops throwing. Same contract as `eventually` in
 * test/helpers/federation.ts, kept here because importing that module loads the
 * global and zone CPs: a discovery test should not fail when they do not build.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
