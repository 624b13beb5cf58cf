/**
 * Proves the lifecycle seam holds in the source: every change handed to a state store comes from
 * `move(...)` or `stay(...)` (state/lifecycle.ts), and no other file writes a change of its own.
 * Read with the TypeScript parser, so formatting, comments and strings cannot fool it.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SOURCE = new URL("../../src/", import.meta.url).pathname;
const LIFECYCLE = "state/lifecycle.ts";
/** The only functions that make a `HostChange`. */
const CHANGE_MAKERS = new Set(["move", "stay"]);

async function sourceFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

function madeByLifecycle(argument: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(argument)) return madeByLifecycle(argument.expression);
  if (ts.isConditionalExpression(argument))
    return madeByLifecycle(argument.whenTrue) && madeByLifecycle(argument.whenFalse);
  return (
    ts.isCallExpression(argument) &&
    ts.isIdentifier(argument.expression) &&
    CHANGE_MAKERS.has(argument.expression.text)
  );
}

/** Every place in `text` that writes a host change without the lifecycle module. */
function changesAround(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const where = (node: ts.Node) =>
    `${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === "change" &&
      node.arguments.length === 2 &&
      !madeByLifecycle(node.arguments[1]!)
    )
      found.push(`${where(node)} change(…) with ${node.arguments[1]!.getText(source)}`);
    // `expect` is the compare-and-set field every HostChange carries: a literal with it is a
    // hand-written change, whatever it is called on later.
    if (
      ts.isObjectLiteralExpression(node) &&
      node.properties.some(
        (property) =>
          property.name !== undefined &&
          ts.isIdentifier(property.name) &&
          property.name.text === "expect",
      )
    )
      found.push(`${where(node)} hand-written change ${node.getText(source)}`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("the lifecycle seam", () => {
  it("is the only maker of the changes every source file hands a state store", async () => {
    const found: string[] = [];
    for (const path of await sourceFiles(SOURCE)) {
      const file = relative(SOURCE, path);
      if (file === LIFECYCLE) continue;
      found.push(...changesAround(file, await readFile(path, "utf8")));
    }
    expect(found).toEqual([]);
  });

  it("catches a change written around it, also behind a helper or a spread", () => {
    const around = [
      `await store.change(name, { expect: "pending", to: "waking", step: "woken" });`,
      `const change = { expect: ["pxe"], to: "installer", step: "s" }; await store.change(name, change);`,
      `await store.change(name, { ...move("fail", "x"), to: "ready" });`,
    ];
    for (const text of around) expect(changesAround("caller.ts", text)).not.toEqual([]);
    const through = `await store.change(name, up ? move("firstBoot", "up") : move("fail", "down"));
      await store.change(name, stay("pxe", "refused"));`;
    expect(changesAround("caller.ts", through)).toEqual([]);
  });
});
