/**
 * `pnpm build`: each service's `src/main.ts` bundled by esbuild into `services/<name>/dist/main.js`,
 * with the workspace packages (`@heliograph/*`, TypeScript sources) inlined and every npm package
 * left as an import, so `pnpm deploy --prod` installs exactly what the bundle imports. Run with
 * service names to build only those. The checks below fail the build rather than an image at run
 * time: an npm import the service does not declare, a test-only module in a bundle, or a file read
 * beside the code (`new URL("./x", import.meta.url)`) that was not copied next to it.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

export const SERVICES = ["ingest-gateway", "sequencer", "stream-gateway", "webhook-dispatcher"] as const;
export type BuiltService = (typeof SERVICES)[number];

/**
 * Files a service reads at run time beside its code, relative to its `src/` (a folder is copied
 * whole). Each is copied to the same place under `dist/`, where `new URL("./<path>",
 * import.meta.url)` in a module directly in `src/` finds it from the bundle too.
 */
export const SERVICE_ASSETS: Record<BuiltService, string[]> = {
  "ingest-gateway": [],
  sequencer: ["sequence-step.lua"],
  "stream-gateway": [],
  "webhook-dispatcher": [],
};

/**
 * Folders of other workspace packages a service serves, built first and copied into its `dist/`
 * (repository path → path under `dist/`). The ingest gateway looks for the console beside its
 * bundle before the workspace's build (services/ingest-gateway/src/config.ts).
 */
export const WORKSPACE_ASSETS: Record<BuiltService, { build: string[]; from: string; to: string }[]> = {
  "ingest-gateway": [
    { build: ["pnpm", "--filter", "@heliograph/console", "build"], from: "packages/console/dist", to: "console" },
  ],
  sequencer: [],
  "stream-gateway": [],
  "webhook-dispatcher": [],
};

/**
 * Workspace paths a source reads only when its production copy (WORKSPACE_ASSETS) is not beside
 * it: the runtime-file check lets them be, since the bundle finds the copy first.
 */
const WORKSPACE_FALLBACKS = new Set(["../../../packages/console/dist"]);

/** Modules that exist for tests alone; one in a bundle means production code imports test support. */
const TEST_ONLY = [/^packages\/testkit\//, /^packages\/contracts\/src\/fixtures\.ts$/, /\/test\//, /\.test\.ts$/];

/** Everything that is not a relative path, an absolute path or a workspace package stays an import. */
const npmPackagesExternal: Plugin = {
  name: "npm-packages-external",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.kind === "entry-point" || args.path.startsWith("@heliograph/")
        ? undefined
        : { path: args.path, external: true },
    );
  },
};

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
const packageName = (specifier: string) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");

export interface ServiceBuild {
  service: BuiltService;
  /** `services/<name>/dist/main.js`, absolute. */
  main: string;
  /** The npm packages the bundle imports (each in the service's `dependencies`). */
  imports: string[];
}

export async function buildService(service: BuiltService): Promise<ServiceBuild> {
  const serviceDir = join(REPO_ROOT, "services", service);
  const dist = join(serviceDir, "dist");
  rmSync(dist, { recursive: true, force: true });
  const main = join(dist, "main.js");
  const result = await build({
    entryPoints: [join(serviceDir, "src/main.ts")],
    outfile: main,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // Error classes and plugins are logged and matched by name; bundling would rename clashes.
    keepNames: true,
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    absWorkingDir: REPO_ROOT,
    plugins: [npmPackagesExternal],
  });

  const problems = [
    ...testOnlyInputs(result.metafile),
    ...undeclaredImports(service, result.metafile),
    ...copyAssets(service, serviceDir, dist),
    ...copyWorkspaceAssets(service, dist),
    ...unresolvedRuntimeFiles(main),
  ];
  if (problems.length > 0) throw new Error(`${service}: ${problems.join("; ")}`);
  return { service, main, imports: externalPackages(result.metafile) };
}

function testOnlyInputs(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs)
    .filter((input) => TEST_ONLY.some((pattern) => pattern.test(input)))
    .map((input) => `the bundle contains the test-only ${input}`);
}

function externalPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs))
    for (const imported of output.imports)
      if (imported.external && !isBuiltin(imported.path)) names.add(packageName(imported.path));
  return [...names].sort();
}

function undeclaredImports(service: BuiltService, metafile: Metafile): string[] {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "services", service, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const declared = new Set(Object.keys(manifest.dependencies ?? {}));
  return externalPackages(metafile)
    .filter((name) => !declared.has(name))
    .map((name) => `the bundle imports ${name}, missing from services/${service}/package.json "dependencies"`);
}

function copyAssets(service: BuiltService, serviceDir: string, dist: string): string[] {
  const problems: string[] = [];
  for (const asset of SERVICE_ASSETS[service]) {
    const from = join(serviceDir, "src", asset);
    if (!existsSync(from)) problems.push(`asset src/${asset} does not exist`);
    else cpSync(from, join(dist, asset), { recursive: true });
  }
  return problems;
}

function copyWorkspaceAssets(service: BuiltService, dist: string): string[] {
  const problems: string[] = [];
  for (const asset of WORKSPACE_ASSETS[service]) {
    const [command, ...args] = asset.build;
    const built = spawnSync(command as string, args, { cwd: REPO_ROOT, encoding: "utf8" });
    if (built.status !== 0) problems.push(`${asset.build.join(" ")} failed: ${built.stderr || built.stdout}`);
    else cpSync(join(REPO_ROOT, asset.from), join(dist, asset.to), { recursive: true });
  }
  return problems;
}

/** Every `new URL("./…", import.meta.url)` left in the bundle must name a file that is there. */
function unresolvedRuntimeFiles(main: string): string[] {
  const text = readFileSync(main, "utf8");
  const problems: string[] = [];
  for (const match of text.matchAll(/new URL\(\s*["'`](\.{1,2}\/[^"'`]*)["'`]\s*,\s*import\.meta\.url\s*\)/g)) {
    const path = match[1] ?? "";
    if (WORKSPACE_FALLBACKS.has(path)) continue;
    if (!existsSync(join(dirname(main), path)))
      problems.push(`the bundle reads ${path} beside itself: list it in SERVICE_ASSETS`);
  }
  return problems;
}

export async function buildServices(services: readonly BuiltService[] = SERVICES): Promise<ServiceBuild[]> {
  const results = await Promise.allSettled(services.map((service) => buildService(service)));
  const failed = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
  if (failed.length > 0) throw new Error(failed.join("\n"));
  return results.map((r) => (r as PromiseFulfilledResult<ServiceBuild>).value);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(SERVICES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`unknown service ${unknown.join(", ")}; one of ${SERVICES.join(", ")}`);
    process.exit(1);
  }
  try {
    for (const built of await buildServices(asked.length > 0 ? (asked as BuiltService[]) : SERVICES))
      console.log(`${relative(REPO_ROOT, built.main)}  imports ${built.imports.join(" ")}`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
