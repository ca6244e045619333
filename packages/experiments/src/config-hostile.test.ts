/**
 * The config loader against hostile files and flags: whatever value lands at whatever depth, only
 * the harness's own InputError comes out, naming the file; a file that extends another keeps what
 * it inherits; a key set twice to two values is refused; YAML's .nan and .inf are named as such;
 * "__proto__" writes nowhere. And an experiment's `name:` cannot take another experiment's folder.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { findRoot, loadExperiment, runFolderFor, type LoadOptions } from "./index.js";

const root = findRoot();
const dir = await mkdtemp(join(tmpdir(), "resagent-cfg-hostile-"));

function file(name: string, text: string): string {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, text);
  return f;
}

function error(nameOrPath: string, opts: LoadOptions = {}): string {
  try {
    loadExperiment(nameOrPath, { root, ...opts });
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  return "no error";
}

describe("small fixes", () => {
  it("a file that extends another under a name of its own keeps everything it inherits", () => {
    const f = file("mine", "extends: table4\nname: mine\nlimit: 3\n");
    const exp = loadExperiment(f, { root });
    expect(exp.config.name).toBe("mine");
    expect(exp.config.version).toBe(loadExperiment("table4", { root }).config.version);
    expect(exp.cells.map((c) => c.id)).toEqual(loadExperiment("table4", { root }).cells.map((c) => c.id));
    expect(exp.config.limit).toBe(3);
  });
  it("a missing top-level key names the file that lacks it", () => {
    const f = file("nocells", "version: 1\nname: nocells\ntitle: t\ndatasets: {val: refcoco/val}\ntable: {columns: [{header: Val, dataset: val, metric: mIoU}]}\n");
    expect(error(f)).toBe(`${f}: cells: missing (expected array)`);
  });
  it("YAML .nan and .inf are named as such, not as null", () => {
    expect(error(file("nan", "extends: table4\nname: nan\npipeline: {verifier: {tau: .nan}}\n"))).toMatch(/nan\.yaml: pipeline\.verifier\.tau: expected number, got \.nan \(not a number\)$/);
    expect(error(file("inf", "extends: table4\nname: inf\nlimit: .inf\n"))).toMatch(/inf\.yaml: limit: expected number, got \.inf \(infinity\)$/);
    expect(error(file("ninf", "extends: table4\nname: ninf\nseed: -.inf\n"))).toMatch(/got -\.inf \(minus infinity\)$/);
  });
  it("a key set twice to two values is refused; twice to the same value is fine", () => {
    expect(error("table4", { set: ["seed=1", "seed=2"] })).toBe("--set seed=2: sets seed again, to another value than --set seed=1 (or its shorthand flag); give it once");
    expect(error("table4", { set: ["verifier.tau=0.5", "pipeline.verifier.tau=0.6"] })).toMatch(/^--set pipeline\.verifier\.tau=0\.6: sets pipeline\.verifier\.tau again/);
    expect(error("table4", { set: ["verifier.tau=0.5", "pipeline.verifier.tau=0.5"] })).toBe("no error");
  });
  it('"__proto__" (or "constructor") in a file or a flag is refused and pollutes nothing', () => {
    expect(error("table4", { set: ['pipeline.__proto__.polluted="yes"'] })).toMatch(/key "__proto__" is not allowed/);
    expect(error("table4", { set: ['pipeline.verifier={"__proto__": {"polluted": "yes"}}'] })).toMatch(/key "__proto__" is not allowed/);
    expect(error(file("proto", 'extends: table4\nname: proto\npipeline:\n  verifier:\n    constructor: {prototype: {polluted: "yes"}}\n'))).toMatch(/key "constructor" is not allowed/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

/** Any value YAML or JSON can hold, nested. */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string({ maxLength: 8 }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom("@verifier-zero-shot", "@nope", "${RESAGENT_NOPE}", "__proto__", ".nan")),
  node: fc.oneof({ maxDepth: 4 }, tie("leaf"), fc.array(tie("node"), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("__proto__", "constructor", "name", "backend", "params", "k", "tau")), tie("node"), { maxKeys: 3 })),
})).node;
/** Key paths into the experiment: known keys at known depths, and anything. */
const keyPath = fc.array(fc.oneof(fc.constantFrom("pipeline", "verifier", "sampler", "decoder", "mllm", "params", "http", "cells", "table", "datasets", "sweep", "name", "limit", "seed", "__proto__", "0"), fc.string({ minLength: 1, maxLength: 5 })), { minLength: 1, maxLength: 4 });

describe("property: random values at random depths", () => {
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const check = (load: () => unknown) => {
    try {
      load();
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      expect(err.message).not.toContain("\n");
    }
    // Nothing written onto every object of the process, under any key.
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  };
  it("in a file that extends table4: loads, or fails with one InputError line", () => {
    let n = 0;
    fc.assert(
      fc.property(keyPath, value, (path, v) => {
        const doc: Record<string, unknown> = { extends: "table4", name: "prop" };
        let cur = doc;
        for (const k of path.slice(0, -1)) {
          const next: Record<string, unknown> = {};
          Object.defineProperty(cur, k, { value: next, enumerable: true, writable: true, configurable: true });
          cur = next;
        }
        Object.defineProperty(cur, path[path.length - 1]!, { value: v, enumerable: true, writable: true, configurable: true });
        const f = file(`prop${n++}`, stringify(doc));
        check(() => loadExperiment(f, { root }));
      }),
      { numRuns: 150 },
    );
  });
  it("in --set and --sweep values: loads, or fails with one InputError line", () => {
    fc.assert(
      fc.property(keyPath, value, fc.boolean(), (path, v, sweep) => {
        const flag = `${path.join(".")}=${typeof v === "string" ? v : JSON.stringify(v)}`;
        check(() => loadExperiment("table4", { root, ...(sweep ? { sweep: [flag] } : { set: [flag] }) }));
      }),
      { numRuns: 300 },
    );
  });
});

describe("an experiment's results folder is its own", () => {
  it("`name:` may not take another experiment file's name, nor a folder holding another experiment's runs", async () => {
    const results = await mkdtemp(join(tmpdir(), "resagent-names-"));
    const taken = loadExperiment(file("taker", "extends: table4\nname: table2\n"), { root });
    expect(() => runFolderFor(results, taken, "r1")).toThrow(/taker\.yaml: name: "table2" is the name of experiments\/table2\.yaml: its results folder belongs to that experiment/);
    const mine = loadExperiment(file("myexp", "extends: table4\nname: myexp\n"), { root });
    expect(runFolderFor(results, mine, "r1")).toBe(join(results, "myexp", "r1"));
    // A folder already holding another experiment's run.
    mkdirSync(join(results, "myexp", "old"), { recursive: true });
    writeFileSync(join(results, "myexp", "old", "run.json"), JSON.stringify({ experiment: "myexp", source: { experiment: "someone-else" }, configHash: "x", codeHash: "y", complete: true }));
    expect(() => runFolderFor(results, mine, "r1")).toThrow(/myexp holds runs of another experiment \(.*old: run\.json says someone-else\)/);
    const dots = loadExperiment(file("dots", "extends: table4\nname: ..\n"), { root });
    expect(() => runFolderFor(results, dots, "r1")).toThrow(/dots\.yaml: name: expected a folder name/);
    expect(() => runFolderFor(results, mine, "latest")).toThrow(/--run-id: expected a folder name/);
  });
});
