/**
 * Partition count of the INGEST stream (`PARTITIONS` of the ingest gateways and the sequencers,
 * which must agree). 32 lets up to 32 sequencer instances share the work (8 instances hold 4
 * each) while one instance alone still holds every partition's consumer cheaply. Part of the
 * public contract: changing it moves streams between partitions, so it is only changed with a
 * drained INGEST stream (docs/architecture.md, "Changing the partition count").
 */
export const DEFAULT_PARTITION_COUNT = 32;

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
