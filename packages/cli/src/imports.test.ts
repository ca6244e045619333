/**
 * No import cycles inside any package: a module that imports another that (through others)
 * imports it back runs with half-initialised exports, and the two can no longer be read apart.
 * Type-only imports count too (they are cycles in what a reader must hold in mind).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** Every import cycle among the sources (tests aside) under `dirs`, as paths relative to `root`. */
function importCycles(root: string, dirs: string[]): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) files.push(p);
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const to = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+["'](\.{1,2}\/[^"']+)["']/g)].map((m) => resolve(dirname(f), m[1]!.replace(/\.js$/, ".ts")));
    edges.set(f, to.filter((t) => existsSync(t)));
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (u: string) => {
    state.set(u, "open");
    stack.push(u);
    for (const v of edges.get(u) ?? []) {
      if (state.get(v) === "open") cycles.push([...stack.slice(stack.indexOf(v)), v].map((p) => relative(root, p)).join(" -> "));
      else if (!state.has(v)) visit(v);
    }
    stack.pop();
    state.set(u, "done");
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

describe("imports", () => {
  it("form no cycle inside any package", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const packages = readdirSync(join(root, "packages")).map((d) => join(root, "packages", d, "src"));
    expect(packages.length).toBeGreaterThan(10);
    expect(importCycles(root, packages)).toEqual([]);
  });

  it("finds a cycle, type-only imports and re-exports included (the check can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "resagent-cycles-"));
    mkdirSync(join(dir, "src", "sub"), { recursive: true });
    writeFileSync(join(dir, "src", "a.ts"), 'import type { B } from "./sub/b.js";\nexport type A = B;\n');
    writeFileSync(join(dir, "src", "sub", "b.ts"), 'export { c } from "../c.js";\nexport type B = number;\n');
    writeFileSync(join(dir, "src", "c.ts"), 'import type { A } from "./a.js";\nexport const c: A = 1;\n');
    writeFileSync(join(dir, "src", "d.ts"), 'import { c } from "./c.js";\nexport const d = c;\n');
    expect(importCycles(dir, [join(dir, "src")])).toEqual(["src/a.ts -> src/sub/b.ts -> src/c.ts -> src/a.ts"]);
  });
});
