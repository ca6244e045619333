/**
 * Every path, folder and file a user hands the command line is hostile until checked: what each
 * command may write or delete, outputs that would land on someone else's work, merges that would
 * lose lines, file-system errors, data tools' input and conflicting flags all end in one line on
 * stderr and exit status 2, with nothing of the user's touched.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { captureCli } from "./testing.js";

let err: string[] = [];
/** The paths are under test, not the decoder (graphcut has its own tests) nor the pictures: masks are the boxes, a few overlays. */
const BOX = ["--set", 'decoder={"name":"box"}', "--max-overlays", "4"];
async function cli(...argv: string[]): Promise<number> {
  const run = await captureCli(argv, { stdout: true });
  err = run.err;
  return run.code;
}
/** Exit status 2 and exactly one line on stderr, matching `line`. */
async function refused(argv: string[], line: RegExp): Promise<void> {
  const code = await cli(...argv);
  expect({ argv, code, err }).toMatchObject({ code: 2 });
  expect(err, argv.join(" ")).toHaveLength(1);
  expect(err[0]!.split("\n"), argv.join(" ")).toHaveLength(1);
  expect(err[0], argv.join(" ")).toMatch(line);
}
const listing = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : []);

let tmp: string;
let root: string;
let s0: string;
let s1: string;
let afile: string;
let home: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "resagent-safety-"));
  process.env.RESAGENT_CACHE_DIR = join(tmp, "cache");
  root = join(tmp, "results");
  for (const i of [0, 1]) expect(await cli("exp", "table4", "--limit", "2", ...BOX, "--out", root, "--shard", `${i}/2`, "--run-id", `s${i}`)).toBe(0);
  s0 = join(root, "table4", "s0");
  s1 = join(root, "table4", "s1");
  afile = join(tmp, "afile");
  writeFileSync(afile, "not a folder");
  home = join(tmp, "home");
  mkdirSync(home);
  writeFileSync(join(home, "thesis.tex"), "months of work");
}, 600_000);

describe("file-system errors: one line naming the flag or variable, exit 2", () => {
  it("a path that is a file, or lies under one, in every command that writes", async () => {
    const cases: [string[], RegExp][] = [
      [["exp", "table4", "--limit", "1", "--out", afile], /^error: --out: .*afile is a file, not a folder/],
      [["exp", "table4", "--limit", "1", "--out", join(afile, "sub")], /^error: --out: .*afile\/sub is under a file, not a folder/],
      [["merge", s0, s1, "--out", afile], /^error: --out: .*afile is a file, not a folder/],
      [["runs", "--out", afile], /^error: --out: .*afile is a file, not a folder/],
      [["gen-vbr", "--out", join(afile, "x"), "--max", "2"], /^error: --out: .*afile\/x is under a file/],
      [["to-sa1b", "--instances", afile, "--images", tmp, "--out", afile], /^error: --out: .*afile is a file/],
      [["train-verifier", "--out", afile], /^error: --out: .*afile is a file/],
      [["segment", "--sample", "synthref:refcoco/val:0", "--out", afile], /^error: --out: .*afile is a file/],
      [["report", afile], /^error: report <run>: .*afile is a file, not a folder/],
      [["compare", s0, s0, "--html", join(afile, "cmp.html")], /^error: --html: .*afile\/cmp\.html lies under a file, not in a folder$/],
      [["compare", s0, s0, "--html", home], /^error: --html: .*home is a folder, expected a file/],
      [["synthref", "--split", "refcoco/val", "--count", "2", "--sheet", join(afile, "sheet.png")], /^error: --sheet .*afile\/sheet\.png: a file is where a folder is needed \((ENOTDIR|EEXIST), mkdir\) \(at .*afile\)$/],
      [["fig4", "--out", join(afile, "fig4")], /^error: --out .*afile\/fig4: a file is where a folder is needed \((ENOTDIR|EEXIST), mkdir\)/],
      [["to-sa1b", "--instances", home, "--images", tmp, "--out", join(tmp, "sa1b-x")], /^error: .*home: cannot read JSON: EISDIR/],
    ];
    for (const [argv, line] of cases) await refused(argv, line);
    expect(readFileSync(afile, "utf8")).toBe("not a folder");
  }, 300_000);

  it("a path an environment variable names is reported with the variable's name", async () => {
    const saved = process.env.RESAGENT_CACHE_DIR;
    process.env.RESAGENT_CACHE_DIR = join(afile, "cache");
    try {
      // The run's heading comes first (the cache is made once the work starts); the error is the last line.
      expect(await cli("exp", "table4", "--limit", "1", "--out", join(tmp, "env-results"), "--no-share")).toBe(2);
      expect(err.at(-1)).toMatch(/^error: RESAGENT_CACHE_DIR .*afile\/cache: a file is where a folder is needed \(ENOTDIR, mkdir\) \(at .*afile\/cache\/synthref\/.*\)$/);
    } finally {
      process.env.RESAGENT_CACHE_DIR = saved;
    }
  });
});

describe("what a command may write or delete", () => {
  it("a run id names a folder inside results/<experiment>/: ., .., latest, empty and paths are refused, and nothing is written", async () => {
    const r = join(tmp, "ids");
    for (const id of [".", "..", "latest", "", "a/b", "../../escape"]) {
      await refused(["exp", "table4", "--limit", "1", "--out", r, "--run-id", id], /^error: --run-id: expected a folder name of letters, digits and \. _ \+ = - that does not start with a dot and is not "latest"/);
    }
    expect(listing(r)).toEqual([]);
    expect(existsSync(join(tmp, "escape"))).toBe(false);
  });

  it("--fresh deletes only a run folder made for the same experiment that holds nothing else", async () => {
    const r = join(tmp, "fresh");
    expect(await cli("exp", "table4", "--limit", "1", ...BOX, "--out", r, "--run-id", "mine")).toBe(0);
    const mine = join(r, "table4", "mine");
    writeFileSync(join(mine, "notes.txt"), "mine");
    await refused(["exp", "table4", "--limit", "1", ...BOX, "--out", r, "--run-id", "mine", "--fresh"], /^error: --fresh: --fresh deletes only a run folder made by the harness for experiment table4, and .*mine also holds 1 file\(s\) the harness did not write \(notes\.txt\)/);
    expect(readFileSync(join(mine, "notes.txt"), "utf8")).toBe("mine");
    // Another experiment's run under this name: neither deleted nor written into.
    const theirs = join(r, "table4", "theirs");
    mkdirSync(theirs);
    writeFileSync(join(theirs, "run.json"), JSON.stringify({ experiment: "table5", configHash: "x", codeHash: "y", complete: true }));
    writeFileSync(join(theirs, "samples.jsonl"), "");
    const before = listing(theirs);
    await refused(["exp", "table4", "--limit", "1", ...BOX, "--out", r, "--run-id", "theirs", "--fresh"], /table4\.yaml: name: .*table4 holds runs of another experiment \(.*theirs: run\.json says table5\)/);
    await refused(["exp", "table4", "--limit", "1", ...BOX, "--out", r, "--run-id", "other"], /holds runs of another experiment/);
    expect(listing(theirs)).toEqual(before);
    const { rmSync } = await import("node:fs");
    rmSync(theirs, { recursive: true });
    // A user's folder that happens to sit where a run would go.
    mkdirSync(join(r, "table4", "photos"));
    writeFileSync(join(r, "table4", "photos", "cat.jpg"), "jpg");
    await refused(["exp", "table4", "--limit", "1", ...BOX, "--out", r, "--run-id", "photos", "--fresh"], /photos holds what looks like a dataset/);
    expect(existsSync(join(r, "table4", "photos", "cat.jpg"))).toBe(true);
    // Its own run, once the stranger's file is gone, is discarded and run anew.
    const { unlinkSync } = await import("node:fs");
    unlinkSync(join(mine, "notes.txt"));
    expect(await cli("exp", "table4", "--limit", "1", ...BOX, "--out", r, "--run-id", "mine", "--fresh")).toBe(0);
    expect(existsSync(join(mine, "run.json"))).toBe(true);
  }, 300_000);

  it("an experiment's name may not take another experiment's results folder", async () => {
    const f = join(tmp, "taker.yaml");
    writeFileSync(f, "extends: table4\nname: table2\n");
    await refused(["exp", f, "--limit", "1", "--out", join(tmp, "taken")], /^error: .*taker\.yaml: name: "table2" is the name of experiments\/table2\.yaml/);
    expect(existsSync(join(tmp, "taken", "table2"))).toBe(false);
  });
});

describe("writing onto someone else's work is refused, naming what is there", () => {
  it("gen-vbr, to-sa1b, train-verifier, segment and merge --out a run folder, another experiment or a stranger's folder", async () => {
    const before = listing(s0);
    const coco = join(tmp, "coco.json");
    writeFileSync(coco, JSON.stringify({ images: [], annotations: [] }));
    await refused(["gen-vbr", "--out", s0, "--max", "2"], /^error: --out: .*s0 holds a run of experiment table4, shard 0\/2; expected a new or empty folder, or a gen-vbr output folder$/);
    await refused(["to-sa1b", "--instances", coco, "--images", tmp, "--out", s0], /holds a run of experiment table4, shard 0\/2; expected a new or empty folder, or a to-sa1b output folder$/);
    await refused(["train-verifier", "--out", join(root, "table4")], /holds the results of experiment table4 \(\d+ run\(s\)\)/);
    await refused(["segment", "--sample", "synthref:refcoco/val:0", "--out", home], /home holds 1 file\(s\) or folder\(s\) the harness did not write \(thesis\.tex\)/);
    await refused(["merge", s0, s1, "--out", home], /home holds 1 file\(s\) or folder\(s\) the harness did not write \(thesis\.tex\)/);
    await refused(["merge", s0, s1, "--out", s1], /s1 is one of the runs being merged/);
    expect(listing(s0)).toEqual(before);
    expect(listing(home)).toEqual(["thesis.tex"]);
  });

  it("runs leaves a stranger's index.html, runs.json and latest alone; compare --html a stranger's file", async () => {
    const r = join(tmp, "runs-root");
    cpSync(join(root, "table4", "s0"), join(r, "table4", "s0"), { recursive: true });
    writeFileSync(join(r, "index.html"), "<p>my homepage</p>");
    await refused(["runs", "--out", r], /^error: --out: .*index\.html exists and is not a runs index written by resagent runs; it is left alone/);
    expect(readFileSync(join(r, "index.html"), "utf8")).toBe("<p>my homepage</p>");
    const { unlinkSync } = await import("node:fs");
    unlinkSync(join(r, "index.html"));
    writeFileSync(join(r, "table4", "latest"), "my own notes about the latest run\nline two\n");
    expect(await cli("runs", "--out", r)).toBe(0);
    expect(readFileSync(join(r, "index.html"), "utf8")).toContain('<meta name="generator" content="resagent runs">');
    expect(readFileSync(join(r, "table4", "latest"), "utf8")).toBe("my own notes about the latest run\nline two\n");
    expect(await cli("runs", "--out", r)).toBe(0); // its own index.html is rewritten
    await refused(["runs", "--out", s0], /--out: .*s0 holds a run of experiment table4/);
    const page = join(home, "page.html");
    writeFileSync(page, "<p>mine</p>");
    await refused(["compare", s0, s0, "--html", page], /^error: --html: .*page\.html exists and is not a comparison page written by resagent compare; it is left alone/);
    expect(readFileSync(page, "utf8")).toBe("<p>mine</p>");
  });
});

describe("merge holds every shard to its run.json", () => {
  const variant = (name: string, edit: (lines: string[]) => string[]): string => {
    const dir = join(tmp, "shards", name);
    cpSync(s1, dir, { recursive: true });
    const lines = readFileSync(join(s1, "samples.jsonl"), "utf8").split("\n").filter(Boolean);
    writeFileSync(join(dir, "samples.jsonl"), `${edit(lines).join("\n")}\n`);
    return dir;
  };
  it("refuses a shard that says complete but lacks records, has torn lines or holds another shard's records", async () => {
    const short = variant("short", (ls) => ls.slice(0, -1));
    const torn = variant("torn", (ls) => [...ls.slice(0, -1), ls.at(-1)!.slice(0, 60)]);
    const copied = variant("copied", () => readFileSync(join(s0, "samples.jsonl"), "utf8").split("\n").filter(Boolean));
    const merged = join(tmp, "shards", "merged");
    await refused(["merge", s0, short, "--out", merged], /^error: runs: incomplete shard set: 1 problem\(s\): shard 1\/2 \(.*short\) says complete but cell "K=5" has 0 of 1 record\(s\) for synthref\/refcoco\/testB; pass --allow-partial/);
    await refused(["merge", s0, torn, "--out", merged], /shard 1\/2 \(.*torn\): 1 torn or unreadable line\(s\) in samples\.jsonl/);
    await refused(["merge", s0, copied, "--out", merged], /shard 1\/2 \(.*copied\): 15 record\(s\) another shard already holds/);
    expect(existsSync(merged)).toBe(false);
  });
  it("under --allow-partial merges what is there as PARTIAL, naming what is short; never marked complete", async () => {
    const short = join(tmp, "shards", "short");
    const merged = join(tmp, "shards", "partial");
    expect(await cli("merge", s0, short, "--out", merged, "--allow-partial")).toBe(0);
    expect(err.join("\n")).toMatch(/^PARTIAL: shard 1\/2 .* says complete but cell "K=5" has 0 of 1 record\(s\)/);
    const run = JSON.parse(readFileSync(join(merged, "run.json"), "utf8")) as { complete: boolean };
    expect(run.complete).toBe(false);
    const summary = JSON.parse(readFileSync(join(merged, "summary.json"), "utf8")) as { partial: { shards: number[]; of: number; problems: string[] } };
    expect(summary.partial).toMatchObject({ shards: [0], of: 2 });
    expect(summary.partial.problems[0]).toMatch(/K=5/);
    expect(readFileSync(join(merged, "table.md"), "utf8")).toMatch(/PARTIAL: 1 of 2 shards/);
    // The whole set merges complete, into a folder of its own or over an earlier merge of the same shards.
    expect(await cli("merge", s0, s1, "--out", merged)).toBe(0);
    expect((JSON.parse(readFileSync(join(merged, "run.json"), "utf8")) as { complete: boolean }).complete).toBe(true);
  }, 300_000);
});

describe("data tools", () => {
  it("to-sa1b: an empty file or one that is not COCO instances is exit 2; far-away and non-finite geometry is skipped with its reason", async () => {
    const empty = join(tmp, "empty.json");
    writeFileSync(empty, "");
    await refused(["to-sa1b", "--instances", empty, "--images", tmp, "--out", join(tmp, "sa1b-a")], /empty\.json: the file is empty \(expected a JSON object\)/);
    const notCoco = join(tmp, "notcoco.json");
    writeFileSync(notCoco, JSON.stringify({ hello: [1, 2] }));
    await refused(["to-sa1b", "--instances", notCoco, "--images", tmp, "--out", join(tmp, "sa1b-b")], /notcoco\.json: not a COCO instances file: no top-level "images" list/);
    const list = join(tmp, "list.json");
    writeFileSync(list, "[1, 2]");
    await refused(["to-sa1b", "--instances", list, "--images", tmp, "--out", join(tmp, "sa1b-c")], /list\.json: expected a JSON object at the top level/);
    const coco = join(tmp, "hostile-coco.json");
    writeFileSync(
      coco,
      JSON.stringify({
        images: [
          { id: 1, file_name: "a.jpg", width: 64, height: 48 },
          { id: 2, file_name: "../../etc/passwd", width: 64, height: 48 },
          { id: 3, file_name: "c.jpg", width: -5, height: 48 },
        ],
        annotations: [
          { id: 10, image_id: 1, segmentation: [[1e9, 1e9, -1e9, 1e9, 0, -1e9]] },
          { id: 11, image_id: 1, segmentation: [[2, 2, 30, 2, 30, 30]] },
          { id: 12, image_id: 1, segmentation: [[0, 0, "x", 1, 2, 2]] },
        ],
      }).replace('"x"', "1e999"),
    );
    const o = join(tmp, "sa1b-d");
    expect(await cli("to-sa1b", "--instances", coco, "--images", tmp, "--out", o, "--image-mode", "none")).toBe(0);
    const summary = JSON.parse(readFileSync(join(o, "summary.json"), "utf8")) as { imagesWritten: number; annotationsWritten: number; skipped: Record<string, number> };
    expect(summary.imagesWritten).toBe(1);
    // Rerun on the same file: redone in place; another instances file may not write into it.
    expect(await cli("to-sa1b", "--instances", coco, "--images", tmp, "--out", o, "--image-mode", "none")).toBe(0);
    const other = join(tmp, "other-coco.json");
    writeFileSync(other, JSON.stringify({ images: [], annotations: [] }));
    await refused(["to-sa1b", "--instances", other, "--images", tmp, "--out", o], /--out: .*sa1b-d holds a to-sa1b conversion: it is the conversion of .*hostile-coco\.json/);
    expect(summary.annotationsWritten).toBe(1);
    expect(summary.skipped).toEqual({
      "bad segmentation (coordinate 0 (x) is 1000000000, far outside the 64x48 image (more than 64 px beyond it))": 1,
      "bad segmentation (coordinate 2 is Infinity, expected a finite number)": 1,
      "image entry whose width or height is not a positive integer": 1,
      "image file_name outside the images folder": 1,
    });
  });
});

describe("usage and conflicting flags: one line, not the help text", () => {
  it("refuses --shard -1/2, an unknown command, --sample with --image, a key set twice", async () => {
    await refused(["exp", "table4", "--shard", "-1/2"], /^error: --shard: expected i\/n with 0 <= i < n, got "-1\/2"$/);
    await refused(["exp", "table4", "--seed", "-3"], /^error: --seed: expected an integer >= 0, got -3$/);
    await refused(["frobnicate"], /^error: Unknown argument: frobnicate \(see pnpm resagent --help\)$/);
    await refused(["exp"], /^error: Not enough non-option arguments: got 0, need at least 1 \(see pnpm resagent exp --help\)$/);
    await refused(["segment", "--sample", "synthref:refcoco/val:0", "--image", afile, "--text", "x"], /^error: --sample: --sample and --image name two different inputs/);
    await refused(["exp", "table4", "--limit", "3", "--set", "limit=4", "--dry-run"], /sets limit again, to another value/);
  });
});
