/**
 * Training data as hostile input: torn lines, invalid records and missing pictures are left out
 * and counted; past a small share the folder is refused, naming what is wrong; the folder itself
 * is never rewritten by reading it.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "@resagent/core";
import { VBR_DEFAULTS, generateVbr } from "@resagent/datagen";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_UNUSABLE_SHARE, describeProblems, readVbrFolder } from "./data.js";

let data: string;
let lines: string[];
beforeAll(async () => {
  data = await mkdtemp(join(tmpdir(), "resagent-vbr-hostile-"));
  await generateVbr({ ...VBR_DEFAULTS, sources: [{ name: "synthref", split: "refcoco/val", options: { count: 16 } }], out: data, fraction: 1, candidates: 3 });
  lines = readFileSync(join(data, "records.jsonl"), "utf8").split("\n").filter(Boolean);
}, 120_000);

async function variant(edit: (lines: string[], dir: string) => string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "resagent-vbr-variant-"));
  cpSync(data, dir, { recursive: true });
  writeFileSync(join(dir, "records.jsonl"), `${edit([...lines], dir).join("\n")}\n`);
  return dir;
}

describe("readVbrFolder", () => {
  it("leaves out a torn line, an invalid record and a missing picture below the share, counts them, and does not rewrite the file", async () => {
    expect(lines.length).toBeGreaterThanOrEqual(61);
    const dir = await variant((ls, d) => {
      const bad = JSON.parse(ls[1]!) as { point: unknown };
      bad.point = { x: "NaN", y: 3 };
      rmSync(join(d, (JSON.parse(ls[2]!) as { entry: { images: string[] } }).entry.images[0]!));
      return [ls[0]!, JSON.stringify(bad), ...ls.slice(2), ls[3]!.slice(0, 40)];
    });
    const before = readFileSync(join(dir, "records.jsonl"), "utf8");
    const { examples, problems } = await readVbrFolder(dir);
    expect(examples.length).toBe(lines.length - 2);
    expect(problems).toMatchObject({ torn: 1, missingImages: 1, invalid: { "point is not two finite numbers": 1 } });
    expect(describeProblems(problems)).toBe("1 torn line(s), 1 without their picture file, 1: point is not two finite numbers");
    expect(readFileSync(join(dir, "records.jsonl"), "utf8")).toBe(before);
  });
  it(`refuses a folder with more than ${100 * MAX_UNUSABLE_SHARE}% unusable records, naming what is wrong`, async () => {
    const dir = await variant((ls) => ls.map((l, i) => (i % 4 === 0 ? JSON.stringify({ ...JSON.parse(l), answer: "maybe" }) : l)));
    const err = await readVbrFolder(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/records\.jsonl: \d+ of \d+ records are unusable \(\d+: answer is not "yes" or "no"\), more than 5%$/);
    const old = await variant((ls) => ls.map((l) => JSON.stringify({ ...JSON.parse(l), image: undefined })));
    await expect(readVbrFolder(old)).rejects.toThrow(/no "image" geometry .*; regenerate: rm -r/);
    const garbage = await variant(() => ["not json", "[1, 2]", "{"]);
    await expect(readVbrFolder(garbage)).rejects.toThrow(/3 of 3 records are unusable \(2 torn line\(s\), 1: not a JSON object|3 of 3 records are unusable/);
  });
});
