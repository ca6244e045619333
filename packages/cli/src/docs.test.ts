/**
 * The docs' generated blocks (result tables, the command reference, the package map) must match
 * what the code and the published runs say today: a stale block fails here, and so in CI.
 */
import { describe, expect, it } from "vitest";
import { COMMANDS, helpText } from "./cli.js";
import { captureCli } from "./testing.js";

describe("generated docs", () => {
  it("every generated block of README.md and docs/*.md is up to date (else: pnpm resagent docs --write)", async () => {
    const run = await captureCli(["docs", "--check"]);
    expect(run.out.filter((l) => l.startsWith("stale")), run.err.join("\n")).toEqual([]);
    expect(run.code).toBe(0);
  });

  it("a command's generated help is its --help at a fixed width, whatever the terminal", async () => {
    const text = await helpText(["merge"]);
    expect(text).toMatch(/^pnpm resagent merge <runs\.\.>/);
    expect(text).toContain("--allow-partial");
    expect(Math.max(...text.split("\n").map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(COMMANDS.length).toBeGreaterThan(0);
  });

  it("--write and --check together are a usage error", async () => {
    const run = await captureCli(["docs", "--write", "--check"]);
    expect(run.code).toBe(2);
    expect(run.err.join("\n")).toMatch(/--write and --check: give one/);
  });
});
