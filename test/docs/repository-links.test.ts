import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";

// A clone holds everything its documents point to: no link may leave the repository, and every
// file a document or a comment names must exist (issue 8 found nine files naming a DESIGN.md that
// lived outside the repository).

/** This file names the missing document on purpose. */
const SELF = "test/docs/repository-links.test.ts";

/** Tracked files and new ones not ignored, as they are in the working tree. */
const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
  cwd: REPO_ROOT,
  encoding: "utf8",
})
  .split("\0")
  .filter((file) => file !== "" && file !== SELF && existsSync(join(REPO_ROOT, file)));
const markdown = files.filter((file) => file.endsWith(".md"));
const source = files.filter((file) => /\.(ts|lua|ya?ml|json|conf|sh)$/.test(file) || file.startsWith(".ci/"));
const topLevel = new Set(files.filter((file) => file.includes("/")).map((file) => file.slice(0, file.indexOf("/"))));

const read = (file: string) => readFileSync(join(REPO_ROOT, file), "utf8");

/** The file's text with fenced code blocks blanked (their lines kept, so line numbers hold). */
function withoutFences(text: string): string {
  let fenced = false;
  return text
    .split("\n")
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return "";
      }
      return fenced ? "" : line;
    })
    .join("\n");
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of withoutFences(read(file)).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(match[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

interface Reference {
  file: string;
  line: number;
  target: string;
}

const lineOf = (text: string, index: number) => text.slice(0, index).split("\n").length;

/** Inline and reference-style link targets of a markdown file, outside code. */
function markdownLinks(file: string): Reference[] {
  const text = withoutFences(read(file)).replace(/`[^`\n]*`/g, (span) => " ".repeat(span.length));
  const links: Reference[] = [];
  for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    links.push({ file, line: lineOf(text, match.index), target: match[1] as string });
  for (const match of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm))
    links.push({ file, line: lineOf(text, match.index), target: match[1] as string });
  return links;
}

/** Repository paths written as inline code in a markdown file (`services/sequencer/src/lease.ts`): relative to the root. */
function codePaths(file: string): Reference[] {
  const text = withoutFences(read(file));
  const paths: Reference[] = [];
  for (const match of text.matchAll(/`([^`\n]+)`/g)) {
    const path = match[1] as string;
    if (!/^[\w.-]+\/[\w./-]*$/.test(path)) continue;
    if (!topLevel.has(path.slice(0, path.indexOf("/")))) continue;
    paths.push({ file, line: lineOf(text, match.index), target: path });
  }
  return paths;
}

/** Markdown files a source file or comment names (`docs/architecture.md`, `README.md`). */
function mentionedDocuments(file: string): Reference[] {
  const text = read(file);
  const mentions: Reference[] = [];
  for (const match of text.matchAll(/(?<![\w./-])((?:\.{1,2}\/)*[\w.-]+(?:\/[\w.-]+)*\.md)\b/g))
    mentions.push({ file, line: lineOf(text, match.index), target: match[1] as string });
  return mentions;
}

/** The problem with a path relative to `base` (a directory of the repository), or undefined. */
function problemOf(base: string, target: string): string | undefined {
  const absolute = resolve(REPO_ROOT, base, target);
  const inside = relative(REPO_ROOT, absolute);
  if (inside.startsWith("..") || isAbsolute(inside)) return "leaves the repository";
  if (!existsSync(absolute)) return "names a file the repository does not have";
  return undefined;
}

const where = (ref: Reference) => `${ref.file}:${ref.line} → ${ref.target}`;

describe("links and file names in the repository", () => {
  it("finds the documents and sources it checks", () => {
    expect(markdown).toContain("README.md");
    expect(markdown).toContain("docs/architecture.md");
    expect(source).toContain("packages/store/src/keys.ts");
  });

  it("markdown links stay inside the repository and reach an existing file and heading", () => {
    const problems: string[] = [];
    for (const file of markdown) {
      for (const link of markdownLinks(file)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue; // a web address
        const [path = "", anchor] = link.target.split("#");
        const target = path === "" ? file : path.startsWith("/") ? path.slice(1) : join(dirname(file), path);
        const problem = path === "" ? undefined : problemOf(path.startsWith("/") ? "." : dirname(file), path);
        if (problem) problems.push(`${where(link)}: ${problem}`);
        else if (anchor && target.endsWith(".md") && !anchorsOf(target).has(decodeURIComponent(anchor)))
          problems.push(`${where(link)}: ${target} has no heading #${anchor}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("repository paths written as code in documents exist", () => {
    const problems = markdown
      .flatMap(codePaths)
      .filter((ref) => problemOf(".", ref.target) !== undefined)
      .map((ref) => `${where(ref)}: no such file or directory`);
    expect(problems).toEqual([]);
  });

  it("documents named in sources and comments exist, beside the file or from the root", () => {
    const problems: string[] = [];
    for (const file of [...source, ...markdown]) {
      for (const ref of mentionedDocuments(file)) {
        if (!problemOf(dirname(file), ref.target) || !problemOf(".", ref.target)) continue;
        problems.push(`${where(ref)}: no such document in the repository`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("nothing points at the old ../shared folder outside the repository", () => {
    const offenders = [...source, ...markdown].filter((file) => read(file).includes("../shared"));
    expect(offenders).toEqual([]);
  });
});
