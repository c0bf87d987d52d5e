import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tempDataDir } from "@heliograph/testkit";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

// The package's promise: nothing to install beside it. Its runtime imports from contracts (header
// names, stream names, the idea reducer) are modules without zod, bundled in by `pnpm run build`,
// and its declarations carry the contracts' types written out.
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = join(packageDir, "../..");

/** What `pnpm run build` writes, into a folder of its own. */
async function buildInto(out: string) {
  const result = await build({
    entryPoints: [join(packageDir, "src/index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outfile: join(out, "index.js"),
    metafile: true,
    logLevel: "silent",
  });
  const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(packageDir, "tsconfig.build.json"), "--outDir", out]);
  execFileSync(process.execPath, ["--import", "tsx", join(packageDir, "scripts/bundle-declarations.ts"), out], {
    cwd: repoRoot,
  });
  return result.metafile;
}

/** tsc's complaints about the project in `dir`; empty when it type-checks. */
function typeCheck(dir: string): string {
  try {
    execFileSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", dir], {
      encoding: "utf8",
    });
    return "";
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

describe("the published form of @heliograph/client", () => {
  it("imports nothing at run time, carries no zod, and its declarations type-check a consumer that has only it", async () => {
    const out = tempDataDir("client-build-");
    const metafile = await buildInto(out);
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.filter((path) => path.includes("node_modules") && !path.includes("@heliograph"))).toEqual([]);
    expect(inputs.some((path) => path.endsWith("idea-reducer.ts"))).toBe(true);

    // Loaded from a folder with no node_modules: any import left would fail here.
    const bundle = (await import(pathToFileURL(join(out, "index.js")).href)) as Record<string, unknown>;
    expect(Object.keys(bundle).sort()).toEqual([
      "HeliographApiError",
      "HeliographNetworkError",
      "createPublisher",
      "createSubscriber",
    ]);

    writeFileSync(
      join(out, "consumer.ts"),
      `import { createPublisher, createSubscriber, HeliographApiError, type StreamEvent } from "./index.js";
const publisher = createPublisher({ baseUrl: "http://127.0.0.1:8080", apiKey: "k", apiSecret: "s" });
export async function use(): Promise<number> {
  const answer = await publisher.createTradingSignal(
    { algorithm_id: 1, ticker_symbol: "AAPL", order_type: "market", portfolio_ratio_investment: 0.01, side: "buy", time_in_force: "gtc" },
    { waitForNumber: 5 },
  );
  for await (const item of createSubscriber({ baseUrl: "http://127.0.0.1:8081", token: "t" }).follow("algorithm-1")) {
    if (item.kind === "event") return (item.event satisfies StreamEvent).event_number;
  }
  const code: HeliographApiError["code"] = "RESOURCE_VALUE_INVALID";
  return answer.status === "sequenced" && code ? answer.event_number : -1;
}
// @ts-expect-error side is "buy" or "sell"
void publisher.createTradingSignal({ algorithm_id: 1, ticker_symbol: "AAPL", order_type: "market", portfolio_ratio_investment: 0.01, side: "hold", time_in_force: "gtc" });
`,
    );
    // No @types/node and no contracts within reach of the temp folder: fetch's types come from lib.dom.
    writeFileSync(
      join(out, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          noEmit: true,
          strict: true,
          module: "esnext",
          moduleResolution: "bundler",
          target: "es2022",
          lib: ["es2022", "dom"],
          types: [],
        },
        files: ["consumer.ts"],
      }),
    );
    expect(typeCheck(out)).toBe("");
  }, 60_000);
});
