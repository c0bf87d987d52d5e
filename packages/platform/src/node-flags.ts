/**
 * V8 flags each service runs with, wherever it runs: the test kit (and so `pnpm dev`,
 * `pnpm cluster` and the bench) passes them to node, and the deploy examples carry them in
 * NODE_OPTIONS (test/deploy/production-build.test.ts keeps those equal to these).
 *
 * The stream gateway holds tens of thousands of long polls: with V8's default young generation
 * (semi-spaces of up to 16 MiB or more, grown under load) it read 28.9-30.0 KB of RSS per held
 * poll in B3, with 4 MiB 24.3-24.5 KB, in paired runs (BENCHMARKS.md); B2, B3 and B4 moved
 * within noise. The other services keep V8's defaults.
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  "stream-gateway": ["--max-semi-space-size=4"],
};

export function nodeFlagsOf(service: string): readonly string[] {
  return SERVICE_NODE_FLAGS[service] ?? [];
}
