/**
 * Milliseconds on CLOCK_MONOTONIC. Every process on the machine reads the same clock, so a time
 * taken in a load generator and one taken in another child can be subtracted.
 */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
