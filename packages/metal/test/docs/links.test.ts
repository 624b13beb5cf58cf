/**
 * Every relative link and every backticked repository path in README.md and docs/ names a file
 * or folder that exists: docs that cite a missing file send the reader nowhere (issue 10, item 12).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const REPO = new URL("../../../../", import.meta.url).pathname;

function markdownFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith(".md") ? [path] : [];
  });
}

const DOCUMENTS = [join(REPO, "README.md"), ...markdownFiles(join(REPO, "docs"))];

/** Top-level folders and files of the repository: a backticked path starting with one is ours. */
const REPO_ROOTS = readdirSync(REPO).filter(
  (name) => !name.startsWith(".") && name !== "node_modules",
);

/** Words the docs use for "fill in your own" inside a path (`STATE/logs/HOST.log`). */
const PLACEHOLDER = /\b(HOST|STATE|NAME|VERSION|DIR|FILE|MAC|IP|N+)\b/;

/** Text outside fenced code blocks (commands and sample output are not citations). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, "");
}

/** `[text](target)` links that point into the repository, without their #fragment. */
export function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target) && !target.startsWith("#"))
    .map((target) => decodeURIComponent(target.split("#")[0]!));
}

/**
 * Paths inside the repository cited in prose: `code` spans and bare words such as
 * docs/secrets.md (no placeholders, globs or flags).
 */
export function citedPaths(markdown: string): string[] {
  const text = prose(markdown);
  const spans = [...text.matchAll(/`([^`\s]+)`/g)].map((match) => match[1]!);
  const bare = [...text.replace(/`[^`]*`/g, "").matchAll(/(?:^|[\s(])([\w.-]+\/[\w./@-]+)/gm)].map(
    (match) => match[1]!,
  );
  return [...spans, ...bare]
    .map((candidate) => candidate.replace(/[.,:;)]+$/, ""))
    .filter((text) => /^[\w.-]+(\/[\w.@-]*)*$/.test(text) && text.includes("/"))
    .filter((text) => REPO_ROOTS.includes(text.split("/")[0]!))
    .filter((text) => !PLACEHOLDER.test(text));
}

describe.each(DOCUMENTS.map((file) => [relative(REPO, file), file]))("%s", (_name, file) => {
  const text = readFileSync(file, "utf8");

  it("links only to files that exist", () => {
    const missing = relativeLinks(text).filter(
      (target) => !existsSync(join(dirname(file), target)),
    );
    expect(missing).toEqual([]);
  });

  it("cites only repository paths that exist", () => {
    const missing = citedPaths(text).filter((path) => !existsSync(join(REPO, path)));
    expect(missing).toEqual([]);
  });
});
