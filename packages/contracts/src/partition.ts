/**
 * Partition count of the INGEST stream. Part of the public contract: changing it moves streams
 * between sequencer partitions, so it is only changed with a drained INGEST stream.
 */
export const DEFAULT_PARTITION_COUNT = 8;

/**
 * Stable partition of a stream id: FNV-1a (32 bit) of its UTF-8 bytes, modulo `count`.
 * Downstream services in any language can reproduce it.
 */
export function partitionOf(streamId: string, count: number = DEFAULT_PARTITION_COUNT): number {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`partition count must be a positive integer, got ${count}`);
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(streamId, "utf8");
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}
