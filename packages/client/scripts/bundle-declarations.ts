/**
 * Makes the built declarations stand alone: the types the client names from @heliograph/contracts
 * (a private package, and zod-inferred) are written out, expanded, into one declaration file of
 * the package, and the declarations import them from there. Run by `pnpm run build` after tsc.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The folder the build wrote (default the package's dist; tests pass a temp folder). */
const dist = process.argv[2] ?? join(packageDir, "dist");
const contractsEntry = join(packageDir, "../contracts/src/index.ts");
const TYPES_FILE = "contracts-types";
const FROM_CONTRACTS = /from "@heliograph\/contracts"/g;

const declarations = readdirSync(dist).filter((file) => file.endsWith(".d.ts"));
const names = new Set<string>();
for (const file of declarations) {
  const text = readFileSync(join(dist, file), "utf8");
  for (const match of text.matchAll(/(?:import|export) type \{([^}]*)\} from "@heliograph\/contracts"/g))
    for (const name of (match[1] ?? "").split(",")) if (name.trim()) names.add(name.trim());
}

const program = ts.createProgram([contractsEntry], {
  strict: true,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  target: ts.ScriptTarget.ES2022,
  skipLibCheck: true,
});
const checker = program.getTypeChecker();
const entry = program.getSourceFile(contractsEntry);
const moduleSymbol = entry && checker.getSymbolAtLocation(entry);
if (!moduleSymbol) throw new Error(`cannot read ${contractsEntry}`);
const exported = new Map(checker.getExportsOfModule(moduleSymbol).map((s) => [s.name, s]));

const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias;
const lines = ["// Written by scripts/bundle-declarations.ts from @heliograph/contracts; do not edit.", ""];
for (const name of [...names].sort()) {
  const found = exported.get(name);
  if (!found) throw new Error(`@heliograph/contracts exports no ${name}`);
  const symbol = found.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(found) : found;
  const text = checker.typeToString(checker.getDeclaredTypeOfSymbol(symbol), undefined, flags);
  if (/\bimport\(|\bz\./.test(text)) throw new Error(`${name} did not expand: ${text.slice(0, 200)}`);
  lines.push(`export type ${name} = ${text};`, "");
}
writeFileSync(join(dist, `${TYPES_FILE}.d.ts`), lines.join("\n"));
for (const file of declarations) {
  const path = join(dist, file);
  writeFileSync(path, readFileSync(path, "utf8").replace(FROM_CONTRACTS, `from "./${TYPES_FILE}.js"`));
}
