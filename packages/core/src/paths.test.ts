/**
 * The one helper that decides which folders a command may write into or delete, and how a
 * file-system error on a user's path becomes one line naming where the path came from.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { InputError, checkFolderName, claimFile, claimFolder, fileSystemErrorLine, forgetUserPaths, identifyFolder, isInside, rememberEnvironmentPaths, removeRunFolder, runFolderPath, userPath } from "./index.js";

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "resagent-paths-"));
});

/** A run folder as `exp` leaves it. */
function makeRun(dir: string, experiment: string, extra: Record<string, string> = {}): string {
  mkdirSync(join(dir, "report-assets"), { recursive: true });
  const files: Record<string, string> = {
    "run.json": JSON.stringify({ experiment, configHash: "c", codeHash: "k", complete: true }),
    "samples.jsonl": "{}\n",
    "summary.json": "{}",
    "config.resolved.yaml": "name: x\n",
    "table.md": "",
    "k-sweep.svg": "<svg/>",
    "k-sweep.png": "png",
    "report-assets/ov-0123abcd.jpg": "jpg",
    ...extra,
  };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

describe("folder names made from user input", () => {
  it.each([".", "..", "latest", "", ".hidden", "a/b", "../x", "a\\b", "x y", "é"])("refuses %j with one line", (name) => {
    expect(() => checkFolderName(name, { field: "--run-id" })).toThrow(InputError);
    expect(() => checkFolderName(name, { field: "--run-id" })).toThrow(/^--run-id: expected a folder name/);
  });
  it("accepts plain names", () => {
    for (const n of ["embedded-seed0-n50-abc", "run.2", "a+b=c", "latest2"]) expect(checkFolderName(n, {})).toBe(n);
  });
  it("a run folder stays inside its experiment folder, also through a symbolic link", () => {
    const root = join(tmp, "results");
    mkdirSync(join(root, "table4"), { recursive: true });
    expect(runFolderPath(root, "table4", "r1", { experiment: {}, runId: {} })).toBe(join(root, "table4", "r1"));
    // A link named like a run that leads out of the experiment folder is refused.
    symlinkSync(tmp, join(root, "table4", "away"));
    expect(() => runFolderPath(root, "table4", "away", { experiment: {}, runId: { field: "--run-id" } })).toThrow(/--run-id: run folder .* outside/);
    expect(() => runFolderPath(root, "..", "r1", { experiment: { file: "x.yaml", field: "name" }, runId: {} })).toThrow(/x\.yaml: name: expected a folder name/);
  });
  it("property: whatever the run id, the folder returned lies strictly inside <root>/<experiment>, or the id is refused with an InputError", () => {
    const root = join(tmp, "results");
    const part = fc.oneof(fc.constantFrom(".", "..", "latest", "", "/", "~", "\\", "a", "-", "%2e%2e"), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
        const id = parts.join(fc.sample(fc.constantFrom("", "/", "."), 1)[0]!);
        let dir: string;
        try {
          dir = runFolderPath(root, "exp", id, { experiment: {}, runId: { field: "--run-id" } });
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          return;
        }
        const rel = relative(join(root, "exp"), dir);
        expect(rel).not.toBe("");
        expect(rel.split(/[\\/]/)).toHaveLength(1);
        expect(rel.startsWith(".")).toBe(false);
        expect(isInside(join(root, "exp"), dir)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("what a folder holds", () => {
  it("tells each kind of output apart, and anything else by what it looks like", () => {
    expect(identifyFolder(join(tmp, "none")).state).toBe("missing");
    writeFileSync(join(tmp, "file"), "x");
    expect(identifyFolder(join(tmp, "file")).state).toBe("file");
    const run = makeRun(join(tmp, "results", "table4", "r1"), "table4");
    expect(identifyFolder(run)).toMatchObject({ kind: "run", foreign: [], what: "a run of experiment table4" });
    expect(identifyFolder(join(tmp, "results", "table4"))).toMatchObject({ kind: "experiment", foreign: [] });
    expect(identifyFolder(join(tmp, "results"))).toMatchObject({ kind: "results" });
    const data = join(tmp, "coco");
    mkdirSync(data);
    for (const f of ["instances_val2014.json", "a.jpg", "b.jpg"]) writeFileSync(join(data, f), "x");
    expect(identifyFolder(data).kind).toBeUndefined();
    expect(identifyFolder(data).looksLikeData).toBe(true);
    expect(identifyFolder(data).what).toMatch(/looks like a dataset \(2 image file\(s\), instances_val2014\.json\)/);
  });
});

describe("teacher sets and models of the two learned components are told apart", () => {
  it("gen-vbr vs gen-point-value by the draw in options.json; a verifier model vs a ranker by model.json's metadata", () => {
    const vbr = join(tmp, "vbr");
    const pv = join(tmp, "pv");
    for (const [dir, draw] of [[vbr, "vbr-v2"], [pv, "point-value-v1"]] as const) {
      mkdirSync(dir);
      writeFileSync(join(dir, "options.json"), JSON.stringify({ draw }));
      writeFileSync(join(dir, "records.jsonl"), "");
    }
    expect(identifyFolder(vbr).kind).toBe("vbr-data");
    expect(identifyFolder(pv).kind).toBe("point-value-data");
    expect(() => claimFolder(pv, { origin: "--out", kind: "vbr-data" })).toThrow(/holds a gen-point-value teacher set; expected a new or empty folder, or a gen-vbr output folder/);
    const verifier = join(tmp, "verifier");
    const ranker = join(tmp, "ranker");
    for (const [dir, meta] of [[verifier, { kind: "verifier" }], [ranker, { kind: "point-value" }]] as const) {
      mkdirSync(dir);
      writeFileSync(join(dir, "model.json"), JSON.stringify({ userDefinedMetadata: { resagent: meta } }));
      writeFileSync(join(dir, "weights.bin"), "");
    }
    expect(identifyFolder(verifier).kind).toBe("verifier-model");
    expect(identifyFolder(ranker).kind).toBe("ranker-model");
    expect(() => claimFolder(ranker, { origin: "--out", kind: "verifier-model" })).toThrow(/holds a trained point-value ranker/);
  });
});

describe("claimFolder: a command writes only into a new or empty folder, or one of its own kind", () => {
  it("refuses a file, another kind of output, a dataset and foreign files, naming the flag and what is there", () => {
    const run = makeRun(join(tmp, "results", "table4", "r1"), "table4");
    writeFileSync(join(tmp, "file"), "x");
    const home = join(tmp, "home");
    mkdirSync(home);
    writeFileSync(join(home, "notes.txt"), "mine");
    expect(() => claimFolder(join(tmp, "file"), { origin: "--out", kind: "vbr-data" })).toThrow(/^--out: .*file is a file, not a folder/);
    expect(() => claimFolder(run, { origin: "--out", kind: "vbr-data" })).toThrow(/^--out: .*r1 holds a run of experiment table4; expected a new or empty folder, or a gen-vbr output folder$/);
    expect(() => claimFolder(join(tmp, "results", "table4"), { origin: "--out", kind: "sa1b" })).toThrow(/holds the results of experiment table4 \(1 run\(s\)\)/);
    expect(() => claimFolder(home, { origin: "--out", kind: "verifier-model" })).toThrow(/holds 1 file\(s\) or folder\(s\) the harness did not write \(notes\.txt\)/);
    // The same kind with a stranger's file beside it is refused too, unless the command continues its own output.
    writeFileSync(join(run, "notes.txt"), "mine");
    expect(() => claimFolder(run, { origin: "--out", kind: "run" })).toThrow(/also 1 file\(s\) the harness did not write \(notes\.txt\)/);
    expect(claimFolder(run, { origin: "run folder", kind: "run", allowForeign: true }).kind).toBe("run");
    // accept() decides between outputs of the same kind.
    expect(() => claimFolder(run, { origin: "--out", kind: "run", allowForeign: true, accept: () => "it is not an earlier merge of these shards" })).toThrow(/r1 holds a run of experiment table4: it is not an earlier merge of these shards/);
    expect(claimFolder(join(tmp, "new"), { origin: "--out", kind: "run" }).state).toBe("missing");
  });
  it("a results root may sit beside other files, but is not a run, an experiment's folder or a dataset", () => {
    const home = join(tmp, "home");
    mkdirSync(home);
    writeFileSync(join(home, "README.md"), "x");
    expect(claimFolder(home, { origin: "--out", kind: "results", allowForeign: true }).state).toBe("folder");
    const run = makeRun(join(tmp, "results", "table4", "r1"), "table4");
    expect(() => claimFolder(run, { origin: "--out", kind: "results", allowForeign: true })).toThrow(/holds a run of experiment table4/);
    expect(() => claimFolder(join(tmp, "results", "table4"), { origin: "--out", kind: "results", allowForeign: true })).toThrow(/holds the results of experiment table4/);
  });
  it("claimFile overwrites only a file it recognises as its own", () => {
    const f = join(tmp, "index.html");
    expect(claimFile(f, { origin: "--html", what: "a page", ours: () => false })).toBe(resolve(f));
    writeFileSync(f, "<p>my page</p>");
    expect(() => claimFile(f, { origin: "--html", what: "a comparison page", ours: (h) => h.includes("resagent") })).toThrow(/^--html: .*index\.html exists and is not a comparison page; it is left alone/);
    writeFileSync(f, '<meta name="generator" content="resagent compare">');
    expect(claimFile(f, { origin: "--html", what: "a page", ours: (h) => h.includes("resagent") })).toBe(resolve(f));
  });
});

describe("removeRunFolder (--fresh) deletes only a run the harness made for the same experiment", () => {
  it("refuses another experiment's run, a run with foreign files, a folder without run.json, and anything else; removes its own", async () => {
    const mine = makeRun(join(tmp, "r", "table4", "mine"), "table4");
    const theirs = makeRun(join(tmp, "r", "table4", "theirs"), "table5");
    const dirty = makeRun(join(tmp, "r", "table4", "dirty"), "table4", { "thesis.tex": "months of work" });
    const old = join(tmp, "r", "table4", "old");
    mkdirSync(old);
    writeFileSync(join(old, "samples.jsonl"), "{}\n");
    const home = join(tmp, "home");
    mkdirSync(home);
    writeFileSync(join(home, "photo.jpg"), "x");
    const o = { experiment: "table4", origin: "--fresh" };
    await expect(removeRunFolder(theirs, o)).rejects.toThrow(/^--fresh: --fresh deletes only a run folder made by the harness for experiment table4, and .*theirs holds a run of experiment table5/);
    await expect(removeRunFolder(dirty, o)).rejects.toThrow(/also holds 1 file\(s\) the harness did not write \(thesis\.tex\)/);
    await expect(removeRunFolder(old, o)).rejects.toThrow(/has no run\.json/);
    await expect(removeRunFolder(home, o)).rejects.toThrow(/holds what looks like a dataset/);
    for (const d of [theirs, dirty, old, home]) expect(existsSync(d)).toBe(true);
    expect(readdirSync(dirty)).toContain("thesis.tex");
    await removeRunFolder(mine, o);
    expect(existsSync(mine)).toBe(false);
  });
  it("does not follow a link named like a run", async () => {
    const target = makeRun(join(tmp, "elsewhere"), "table4");
    mkdirSync(join(tmp, "r", "table4"), { recursive: true });
    symlinkSync(target, join(tmp, "r", "table4", "link"));
    await expect(removeRunFolder(join(tmp, "r", "table4", "link"), { experiment: "table4", origin: "--fresh" })).rejects.toThrow(/symbolic link/);
    expect(existsSync(join(target, "run.json"))).toBe(true);
  });
});

describe("file-system errors on user paths", () => {
  const errnoOf = async (f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (err) {
      return err;
    }
    throw new Error("no error");
  };
  it("names the flag or variable that named the path, and the path, in one line", async () => {
    forgetUserPaths();
    writeFileSync(join(tmp, "afile"), "x");
    const out = userPath(join(tmp, "afile"), "--out");
    const err = await errnoOf(() => writeFile(join(out, "table4", "x.json"), "{}"));
    expect(fileSystemErrorLine(err)).toBe(`--out ${out}: a file is where a folder is needed (ENOTDIR, open) (at ${join(out, "table4", "x.json")})`);
    rememberEnvironmentPaths({ RESAGENT_DATA_ROOT: join(tmp, "data"), RESAGENT_MLLM_URL: "http://x:8000/v1" });
    const e2 = await errnoOf(() => writeFile(join(tmp, "data", "refcoco", "refs.p"), ""));
    expect(fileSystemErrorLine(e2)).toMatch(/^RESAGENT_DATA_ROOT .*data: no such file or folder \(ENOENT, open\)/);
    // A path nobody named is still one line with the path; other errors are not file-system errors.
    const e3 = await errnoOf(() => writeFile(join(tmp, "nowhere", "x"), ""));
    expect(fileSystemErrorLine(e3)).toMatch(/^.*nowhere\/x: no such file or folder \(ENOENT, open\)$/);
    expect(fileSystemErrorLine(new Error("boom"))).toBeUndefined();
    expect(fileSystemErrorLine(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBeUndefined();
    forgetUserPaths();
  });
});
