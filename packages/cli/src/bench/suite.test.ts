import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findRoot } from "@resagent/experiments";
import { childCpuSeconds, countTests, measureSuite, type Exec } from "./suite.js";

describe("bench suite: the quick start, timed", () => {
  it("reads the CPU time of waited-for children from /proc/self/stat, a command name with spaces and parentheses included", () => {
    // pid (comm) state ppid ... utime stime cutime cstime ...: cutime 1234, cstime 56 ticks.
    const stat = "4242 (node (a b)) S 1 4242 4242 0 -1 4194304 100 200 0 0 700 80 1234 56 20 0 11 0 5000 1000000 2000";
    expect(childCpuSeconds(() => stat)).toBeCloseTo(12.9, 10);
    expect(childCpuSeconds(() => undefined)).toBeNull();
    expect(childCpuSeconds(() => "1 (x) S")).toBeNull();
  });

  it("clones the commit, then times install and exp table4, and in another clone two test runs, without our cache folder, and counts the tests", async () => {
    const work = await mkdtemp(join(tmpdir(), "resagent-bench-suite-"));
    const calls: { cmd: string; args: string[]; cwd: string; env: Record<string, string | undefined> }[] = [];
    const exec: Exec = (cmd, args, cwd, env = {}) => {
      calls.push({ cmd, args, cwd, env });
      const reports = env.RESAGENT_TEST_REPORT;
      if (reports && args[0] === "test" && calls.filter((c) => c.args[0] === "test").length === 1) {
        // The cold run writes vitest's JSON reports; the warm one replays and writes nothing new.
        mkdirSync(reports, { recursive: true });
        writeFileSync(join(reports, "resagent-test-run.json"), JSON.stringify({ numPassedTests: 700, numFailedTests: 0, numPendingTests: 3 }));
      }
      const wall = { install: 20, exp: 35, test: calls.filter((c) => c.args[0] === "test").length === 1 ? 110 : 4 }[args[0] as "install" | "exp" | "test"] ?? 1;
      return { wall, cpu: wall * 1.5, status: 0 };
    };
    const rows = await measureSuite(exec, findRoot(), work);
    expect(calls.map((c) => [c.cmd, ...c.args].join(" "))).toEqual([
      `git clone --quiet ${findRoot()} ${join(work, "repo")}`,
      expect.stringMatching(/^git checkout --quiet --detach [0-9a-f]{40}$/),
      "pnpm install --frozen-lockfile",
      "pnpm exp table4",
      `git clone --quiet ${findRoot()} ${join(work, "repo-test")}`,
      expect.stringMatching(/^git checkout --quiet --detach [0-9a-f]{40}$/),
      "pnpm install --frozen-lockfile",
      "pnpm test",
      "pnpm test",
    ]);
    // The tests run in a clone of their own: nothing the first command left is there.
    expect(calls.map((c) => c.cwd)).toEqual([work, ...Array(3).fill(join(work, "repo")), work, ...Array(4).fill(join(work, "repo-test"))]);
    for (const c of calls.filter((x) => x.cmd === "pnpm")) expect("RESAGENT_CACHE_DIR" in c.env && c.env.RESAGENT_CACHE_DIR === undefined).toBe(true);
    // Both test runs hash alike for turbo: the same report folder.
    expect(calls[7]!.env.RESAGENT_TEST_REPORT).toBe(calls[8]!.env.RESAGENT_TEST_REPORT);
    const got = rows;
    expect(got.map((r) => [r.name, r.value])).toEqual([
      ["fresh clone: pnpm install", 20],
      ["fresh clone: pnpm install && pnpm exp table4", 55],
      ["pnpm test, cold (turbo cache empty)", 110],
      ["pnpm test, warm (nothing changed: turbo replays)", 4],
    ]);
    expect(got[1]!.note).toMatch(/^exp alone 35 s; CPU 83 s; load [\d.]+\/[\d.]+\/[\d.]+ before, [\d.]+\/[\d.]+\/[\d.]+ after; commit [0-9a-f]{10}$/);
    expect(got[2]!.note).toMatch(/^700 passed, 0 failed, 3 skipped; CPU 165 s; load /);
  });

  it("stops with the step that failed", async () => {
    const work = await mkdtemp(join(tmpdir(), "resagent-bench-suite-"));
    const exec: Exec = (_cmd, args) => ({ wall: 1, cpu: null, status: args[0] === "install" ? 1 : 0 });
    await expect(measureSuite(exec, findRoot(), work)).rejects.toThrow(/bench suite: pnpm install exited with status 1/);
  });

  it("sums the vitest reports of a folder; none there is zero", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-bench-reports-"));
    await writeFile(join(dir, "a.json"), JSON.stringify({ numPassedTests: 5, numFailedTests: 1, numPendingTests: 2, numTodoTests: 1 }));
    await writeFile(join(dir, "b.json"), JSON.stringify({ numPassedTests: 7 }));
    await writeFile(join(dir, "notes.txt"), "not a report");
    expect(countTests(dir)).toEqual({ passed: 12, failed: 1, skipped: 3 });
    expect(countTests(join(dir, "missing"))).toEqual({ passed: 0, failed: 0, skipped: 0 });
  });
});
