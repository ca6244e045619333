/**
 * `--shard auto`: the shard comes from the scheduler's environment (SLURM job arrays, Kubernetes
 * Indexed Jobs) and is run and recorded exactly like the same `--shard i/n`.
 */
import { readFile, readdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "@resagent/core";
import { linkTestScenes } from "@resagent/data/testing";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { captureCli } from "./testing.js";
import { parseShard } from "./commands/exp.js";
import { resolveAutoShard } from "./commands/shard.js";

const SCHEDULER_VARS = ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_JOB_ID", "JOB_COMPLETION_INDEX", "RESAGENT_SHARD_COUNT"];

describe("resolveAutoShard", () => {
  const fails = (spec: string, env: NodeJS.ProcessEnv, message: RegExp) => {
    let err: unknown;
    try {
      resolveAutoShard(spec, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).not.toContain("\n");
    expect((err as Error).message).toMatch(message);
  };

  it("reads a SLURM job array: index = (ID - MIN) / STEP, count = COUNT", () => {
    expect(resolveAutoShard("auto", { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" })).toMatchObject({ index: 1, count: 2 });
    // sbatch --array=1-8: tasks 1..8 are shards 0..7.
    const full = { SLURM_ARRAY_JOB_ID: "4242", SLURM_ARRAY_TASK_ID: "8", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "8", SLURM_ARRAY_TASK_COUNT: "8", SLURM_ARRAY_TASK_STEP: "1" };
    const s = resolveAutoShard("auto", full);
    expect(s).toMatchObject({ index: 7, count: 8 });
    expect(s.from).toBe("SLURM job array 4242 (SLURM_ARRAY_TASK_ID=8, SLURM_ARRAY_TASK_MIN=1, count 8)");
    // --array=0-14:2 (0, 2, ..., 14): task 6 is shard 3 of 8.
    expect(resolveAutoShard("auto/8", { SLURM_ARRAY_TASK_ID: "6", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_MAX: "14", SLURM_ARRAY_TASK_STEP: "2", SLURM_ARRAY_TASK_COUNT: "8" })).toMatchObject({ index: 3, count: 8 });
    // A % throttle does not change the task variables.
    expect(resolveAutoShard("auto", { SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_MAX: "99", SLURM_ARRAY_TASK_COUNT: "100" })).toMatchObject({ index: 0, count: 100 });
  });

  it("reads a Kubernetes Indexed Job: JOB_COMPLETION_INDEX, count from auto/N or RESAGENT_SHARD_COUNT", () => {
    expect(resolveAutoShard("auto/4", { JOB_COMPLETION_INDEX: "3" })).toMatchObject({ index: 3, count: 4 });
    expect(resolveAutoShard("auto", { JOB_COMPLETION_INDEX: "0", RESAGENT_SHARD_COUNT: "4" })).toMatchObject({ index: 0, count: 4, from: "Kubernetes Indexed Job (JOB_COMPLETION_INDEX=0, count 4 from RESAGENT_SHARD_COUNT)" });
    expect(resolveAutoShard("auto/4", { JOB_COMPLETION_INDEX: "2", RESAGENT_SHARD_COUNT: "4" })).toMatchObject({ index: 2, count: 4 });
  });

  it("refuses, in one line, no scheduler, missing counts and anything inconsistent", () => {
    fails("auto", {}, /^--shard auto: no scheduler shard found: neither SLURM_ARRAY_TASK_ID .* nor JOB_COMPLETION_INDEX .* is set; pass --shard i\/n/);
    fails("auto", { SLURM_JOB_ID: "7" }, /no scheduler shard found/); // a plain (non-array) SLURM job
    fails("auto", { SLURM_ARRAY_TASK_ID: "1" }, /SLURM_ARRAY_TASK_COUNT is not; pass --shard auto\/N/);
    fails("auto/3", { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" }, /inconsistent shard counts: SLURM_ARRAY_TASK_COUNT = 2, --shard auto\/3 = 3/);
    fails("auto", { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "2" }, /SLURM_ARRAY_TASK_ID=2 is not one of 2 array tasks starting at SLURM_ARRAY_TASK_MIN=0/);
    fails("auto", { SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "2" }, /is not one of 2 array tasks/);
    fails("auto", { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_STEP: "2", SLURM_ARRAY_TASK_COUNT: "4" }, /with step 2/);
    // --array=1,4,9: a list, not a range.
    fails("auto", { SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "9", SLURM_ARRAY_TASK_COUNT: "3" }, /the job array is not a range: .*submit it as --array=0-2/);
    fails("auto", { SLURM_ARRAY_TASK_ID: "x", SLURM_ARRAY_TASK_COUNT: "2" }, /SLURM_ARRAY_TASK_ID="x" is not an integer >= 0/);
    fails("auto", { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "0" }, /SLURM_ARRAY_TASK_COUNT="0" is not an integer >= 1/);
    fails("auto", { JOB_COMPLETION_INDEX: "1" }, /JOB_COMPLETION_INDEX is set \(1\) but the shard count is not: pass --shard auto\/N or set RESAGENT_SHARD_COUNT/);
    fails("auto/4", { JOB_COMPLETION_INDEX: "4" }, /JOB_COMPLETION_INDEX=4 is not below the shard count 4/);
    fails("auto/4", { JOB_COMPLETION_INDEX: "1", RESAGENT_SHARD_COUNT: "5" }, /inconsistent shard counts: --shard auto\/4 = 4, RESAGENT_SHARD_COUNT = 5/);
    fails("auto", { JOB_COMPLETION_INDEX: "1", SLURM_ARRAY_TASK_ID: "1" }, /both SLURM_ARRAY_TASK_ID \(1\) and JOB_COMPLETION_INDEX \(1\) are set/);
    fails("auto/0", { JOB_COMPLETION_INDEX: "0" }, /expected a shard count >= 1/);
    fails("automatic", {}, /expected "auto" or "auto\/N", got "automatic"/);
  });

  it("parseShard keeps i/n and hands auto to the scheduler", () => {
    expect(parseShard("1/3", {})).toEqual({ index: 1, count: 3 });
    expect(parseShard(undefined, { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" })).toBeUndefined();
    expect(parseShard("auto", { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" })).toMatchObject({ index: 1, count: 2 });
  });
});

describe("exp --shard auto", () => {
  let tmp: string;
  let err: string[] = [];
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "resagent-shard-auto-"));
    process.env.RESAGENT_CACHE_DIR = await linkTestScenes(join(tmp, "cache"));
  });
  afterEach(() => {
    for (const k of SCHEDULER_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    vi.restoreAllMocks();
  });
  const withEnv = (vars: Record<string, string>) => {
    for (const k of SCHEDULER_VARS) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    Object.assign(process.env, vars);
  };
  async function cli(...argv: string[]): Promise<number> {
    const run = await captureCli(argv);
    err = run.err;
    return run.code;
  }
  const records = async (dir: string) => (await readFile(join(dir, "samples.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { id: string; cell: string });

  it("under SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 runs shard 1 of 2, recorded like --shard 1/2; the shards merge", async () => {
    const root = join(tmp, "out");
    // The shards are under test, not the decoder (graphcut has its own tests) nor the report's pictures: masks are the boxes, a few overlays.
    const args = ["exp", "table2", "--limit", "3", "--out", root, "--set", 'decoder={"name":"box"}', "--max-overlays", "4"];
    withEnv({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" });
    expect(await cli(...args, "--shard", "auto"), err.join("\n")).toBe(0);
    expect(err).toContain("--shard auto: shard 1/2 from the SLURM job array (SLURM_ARRAY_TASK_ID=1, count 2)");
    withEnv({});
    expect(await cli(...args, "--shard", "0/2")).toBe(0);
    expect(await cli(...args, "--run-id", "explicit1", "--shard", "1/2")).toBe(0);
    const runs = (await readdir(join(root, "table2"))).sort();
    const auto1 = runs.find((r) => r.endsWith("-shard1of2"))!;
    const shard0 = runs.find((r) => r.endsWith("-shard0of2"))!;
    expect(auto1).toBeDefined();
    expect(auto1.replace(/1of2$/, "0of2")).toBe(shard0); // same run id as an explicit --shard, so merge finds the set
    const manifest = JSON.parse(await readFile(join(root, "table2", auto1, "run.json"), "utf8")) as { shard: unknown; complete: boolean };
    expect(manifest).toMatchObject({ shard: { index: 1, count: 2 }, complete: true });
    // The same samples as the explicit shard 1/2, and none of shard 0's.
    const ids = (rs: { id: string; cell: string }[]) => rs.map((r) => `${r.id}/${r.cell}`).sort();
    expect(ids(await records(join(root, "table2", auto1)))).toEqual(ids(await records(join(root, "table2", "explicit1"))));
    const zero = new Set((await records(join(root, "table2", shard0))).map((r) => r.id));
    expect((await records(join(root, "table2", auto1))).some((r) => zero.has(r.id))).toBe(false);
    // A rerun under the same array task resumes its own folder.
    withEnv({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2" });
    expect(await cli(...args, "--shard", "auto")).toBe(0);
    expect(err.join("\n")).toMatch(/resumed: \d+ records were already done/);
    withEnv({});
    expect(await cli("merge", join(root, "table2", shard0), join(root, "table2", auto1), "--out", join(root, "table2", "merged"))).toBe(0);
  }, 240_000); // four small runs of table2; slow on 2 shared cores

  it("fails with one line and status 2 outside a scheduler or on inconsistent values", async () => {
    withEnv({});
    expect(await cli("exp", "table2", "--limit", "1", "--shard", "auto", "--dry-run")).toBe(2);
    expect(err.join("\n")).toMatch(/^error: --shard auto: no scheduler shard found/);
    withEnv({ JOB_COMPLETION_INDEX: "2", RESAGENT_SHARD_COUNT: "3" });
    expect(await cli("exp", "table2", "--limit", "1", "--shard", "auto/4", "--dry-run")).toBe(2);
    expect(err.join("\n")).toMatch(/inconsistent shard counts: --shard auto\/4 = 4, RESAGENT_SHARD_COUNT = 3/);
    withEnv({ JOB_COMPLETION_INDEX: "2", RESAGENT_SHARD_COUNT: "3" });
    expect(await cli("exp", "table2", "--limit", "1", "--shard", "auto", "--dry-run")).toBe(0);
    expect(err.join("\n")).toContain("shard 2/3 from the Kubernetes Indexed Job");
  });
});
