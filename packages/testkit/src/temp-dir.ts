import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = new Set<string>();
let hooked = false;

/**
 * A temp folder for a server's data: under HG_TEMP_DIR when set (the test run's own folder, which
 * its global teardown removes), and removed when this process exits. Not on stop: a stopped server
 * is restarted on the same folder (the restart tests rely on its data).
 */
export function tempDataDir(prefix: string): string {
  const dir = mkdtempSync(join(process.env.HG_TEMP_DIR ?? tmpdir(), prefix));
  made.add(dir);
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const path of made) rmSync(path, { recursive: true, force: true });
    });
  }
  return dir;
}
