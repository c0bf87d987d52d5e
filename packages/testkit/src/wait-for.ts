/**
 * Polls `condition` until it returns a truthy value or the deadline passes; tests wait on a
 * condition, never on a sleep.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const reason = lastError ? `: ${(lastError as Error).message}` : "";
      throw new Error(`timed out waiting for ${options.what ?? "condition"}${reason}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}
