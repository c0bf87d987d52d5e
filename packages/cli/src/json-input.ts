import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UsageError } from "./args.js";

/**
 * A JSON object from a file named on the command line (`-` is stdin); a usage error, before any
 * call is made, when it cannot be read or is not an object.
 */
export async function readJsonObject(
  file: string,
  flag: string,
  io: { cwd: string; stdin?: () => Promise<string> },
): Promise<Record<string, unknown>> {
  const shown = file === "-" ? "- (stdin)" : file;
  let text: string;
  try {
    text = file === "-" ? await (io.stdin ?? readStdin)() : await readFile(resolve(io.cwd, file), "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${shown}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag} ${shown} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UsageError(`${flag} ${shown} must hold a JSON object`);
  return value as Record<string, unknown>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
