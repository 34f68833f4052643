/** Polls until `check` passes or the time is up; the last failure is thrown. Light on purpose: unit tests import it too. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
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
