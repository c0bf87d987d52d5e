import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Vitest global setup: one temp folder for the whole run, under which the test kit puts every
 * server's data (HG_TEMP_DIR, inherited by the worker processes), removed when the run ends.
 * Workers are stopped without running their exit hooks, so they cannot clean up themselves.
 */
export default function setup(): () => void {
  // Each vitest project runs the global setup; the first one's folder serves them all.
  if (process.env.HG_TEMP_DIR) return () => {};
  const root = mkdtempSync(join(tmpdir(), "hg-test-run-"));
  process.env.HG_TEMP_DIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
