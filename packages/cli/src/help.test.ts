/**
 * What `--help` and `--version` tell a new user: every option of every command says what it does,
 * usage lines name a command that runs, and the version names the code.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it, vi } from "vitest";
import yargs, { type Argv } from "yargs";
import { COMMANDS, runCli, versionLine } from "./cli.js";

/** Run the CLI, returning its status and what it printed (yargs prints help and version with console.log). */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  try {
    return { code: await runCli(argv), out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

/** The options and positionals a command declares, with their descriptions, as yargs records them. */
function declared(command: (typeof COMMANDS)[number]): { name: string; keys: string[]; descriptions: Record<string, string | undefined> } {
  const y = yargs([]) as Argv;
  const builder = command.builder;
  if (typeof builder === "function") builder(y as never);
  else if (builder) y.options(builder as never);
  const keys = Object.keys((y as unknown as { getOptions(): { key: Record<string, boolean> } }).getOptions().key).filter((k) => k !== "help" && k !== "version");
  const descriptions = (y as unknown as { getInternalMethods(): { getUsageInstance(): { getDescriptions(): Record<string, string | undefined> } } }).getInternalMethods().getUsageInstance().getDescriptions();
  const name = String(Array.isArray(command.command) ? command.command[0] : command.command).split(" ")[0]!;
  return { name, keys, descriptions };
}

describe("help", () => {
  it("walks every command: each has a description, and so has each of its options and positionals", () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(12);
    const missing: string[] = [];
    for (const c of COMMANDS) {
      const { name, keys, descriptions } = declared(c);
      if (!c.describe) missing.push(`${name} (the command itself)`);
      expect(keys.length, `${name} declares options`).toBeGreaterThan(0);
      for (const k of keys) if (!descriptions[k]?.trim()) missing.push(`${name} --${k}`);
    }
    expect(missing, `options without a description: ${missing.join(", ")}`).toEqual([]);
  });

  it("finds a missing description (the check can fail)", () => {
    const bare = { command: "x", describe: "x", builder: (y: Argv) => y.option("documented", { type: "string", describe: "yes" }).option("bare", { type: "string" }), handler: () => {} };
    const { keys, descriptions } = declared(bare as never);
    expect(keys.filter((k) => !descriptions[k])).toEqual(["bare"]);
  });

  it("usage lines name a command that runs: pnpm resagent", async () => {
    const top = await cli("--help");
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/^pnpm resagent <command> \[options\]/);
    expect(top.out).toMatch(/pnpm resagent exp <name> /);
    expect(top.out).not.toMatch(/(?<!pnpm )resagent exp/);
    const exp = await cli("exp", "--help");
    expect(exp.out).toMatch(/^pnpm resagent exp <name>/);
    expect(exp.out).toMatch(/--seed +seed of every random draw/);
  });
});

describe("--version", () => {
  it("prints the package version and the commit of the code, -dirty when the tree has changes", async () => {
    const pkg = (await import("../package.json", { with: { type: "json" } })).default as { version: string };
    const { code, out } = await cli("--version");
    expect(code).toBe(0);
    expect(out).toBe(versionLine());
    const here = new URL(".", import.meta.url).pathname;
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: here, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: here, encoding: "utf8" }).trim() !== "";
    expect(out).toBe(`resagent ${pkg.version} (commit ${head}${dirty ? "-dirty" : ""})`);
    expect(out).not.toMatch(/unknown/);
  });
});
