import { InputError, fileSystemErrorLine, forgetUserPaths, gitCommit, rememberEnvironmentPaths } from "@resagent/core";
import { HttpError } from "@resagent/mllm";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import yargs, { type CommandModule } from "yargs";
import { benchCommand } from "./commands/bench.js";
import { dataCommand } from "./commands/data.js";
import { makeDocsCommand, publishCommand } from "./commands/docs.js";
import { doctorCommand } from "./commands/doctor.js";
import { genPointValueCommand, genVbrCommand, toSa1bCommand } from "./commands/datagen.js";
import { expCommand } from "./commands/exp.js";
import { fig4Command } from "./commands/fig4.js";
import { lsCommand } from "./commands/ls.js";
import { mergeCommand } from "./commands/merge.js";
import { schemaCommand } from "./commands/schema.js";
import { compareCommand, reportCommand, runsCommand } from "./commands/report.js";
import { segmentCommand } from "./commands/segment.js";
import { synthrefCommand } from "./commands/synthref.js";
import { trainPointValueCommand } from "./commands/train-point-value.js";
import { trainVerifierCommand } from "./commands/train-verifier.js";
import { validateCommand } from "./commands/validate.js";
import { ExitStatus } from "./exit-status.js";

/** Every command, in the order `--help` lists them (a test checks each option has a description). */
export const COMMANDS: readonly CommandModule<object, never>[] = [
  expCommand,
  lsCommand,
  validateCommand,
  doctorCommand,
  mergeCommand,
  reportCommand,
  compareCommand,
  runsCommand,
  segmentCommand,
  dataCommand,
  genVbrCommand,
  genPointValueCommand,
  toSa1bCommand,
  synthrefCommand,
  benchCommand,
  fig4Command,
  schemaCommand,
  trainVerifierCommand,
  trainPointValueCommand,
  publishCommand,
  makeDocsCommand({
    commands: () => COMMANDS.map((c) => ({ name: commandName(c), describe: String(c.describe ?? "") })),
    help: (argv) => helpText(argv),
  }),
] as unknown as CommandModule<object, never>[];

function commandName(c: CommandModule<object, never>): string {
  return String(Array.isArray(c.command) ? c.command[0] : c.command).split(" ")[0]!;
}

/** Width of generated help texts: fixed, so the docs do not depend on the terminal that wrote them. */
const DOCS_WIDTH = 100;

/** A command's `--help` as printed (yargs prints help with console.log), for the generated command reference. */
export async function helpText(argv: string[]): Promise<string> {
  const out: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void out.push(a.map(String).join(" "));
  try {
    await runCli([...argv, "--help"], { wrap: DOCS_WIDTH });
  } finally {
    console.log = log;
  }
  return out.join("\n");
}

/** `resagent 0.1.0 (commit <sha>[-dirty])`: the package version and the code it runs. */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  // The commit of the code that runs (where this file is), not of the current directory.
  const commit = gitCommit(fileURLToPath(new URL(".", import.meta.url)));
  return `resagent ${pkg.version} (commit ${commit === "unknown" ? "unknown: not a git checkout" : commit})`;
}

class UsageError extends Error {}

/**
 * `--shard -1/2` would read "-1/2" as flags and print the help: a value that starts with a dash
 * and a digit (or a dot) is glued to its option (`--shard=-1/2`), so the command itself checks it
 * and says in one line what it expected.
 */
export function attachDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (/^--[\w-]+$/.test(a) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Run the `resagent` command line on `argv` (without node and the script) in this process and
 * return the exit status: 0 done, 1 a check failed or a model server failed, 2 bad input or usage
 * (one line on stderr), a file-system error on a path included (ENOENT, ENOTDIR, EISDIR, EACCES,
 * ENOSPC, EEXIST, ...: the line names the flag or variable that named the path).
 * Anything else is a bug and is thrown.
 */
export async function runCli(rawArgv: string[], options: { wrap?: number } = {}): Promise<number> {
  // Paths named by environment variables (RESAGENT_DATA_ROOT, ...) and, as commands parse them,
  // by flags: a file-system error under one is reported naming it.
  forgetUserPaths();
  rememberEnvironmentPaths();
  const argv = attachDashValues(rawArgv);
  const command = COMMANDS.map((c) => String(c.command).split(" ")[0]).find((name) => name === argv[0]);
  let cli = yargs(argv).scriptName("pnpm resagent").usage("$0 <command> [options]\n\nResAgent research harness (`pnpm exec resagent` and `npx resagent` run the last build; `pnpm resagent` builds first)");
  for (const c of COMMANDS) cli = cli.command(c);
  if (options.wrap) cli = cli.wrap(options.wrap);
  cli = cli
    // git is asked only when the version is asked for.
    .version("version", "print the package version and the code commit (-dirty: the tree has uncommitted changes)", argv.includes("--version") ? versionLine() : "")
    .demandCommand(1, "name a command (see --help)")
    .strict()
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      // One line, as for any bad input; the help is one flag away.
      console.error(`error: ${msg.replace(/\s*\n\s*/g, " ")} (see pnpm resagent ${command ? `${command} ` : ""}--help)`);
      throw new UsageError(msg);
    });
  try {
    await cli.parseAsync();
    return 0;
  } catch (err) {
    if (err instanceof InputError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    if (err instanceof HttpError && err.kind === "missingLogprobs") {
      // Not a server that is down: the message names the server and the fix, in one line.
      console.error(`error: MLLM server: ${err.message}`);
      return 1;
    }
    if (err instanceof HttpError) {
      // A server that is down or refuses us is the user's to fix, not a bug: one line, and what
      // was done is kept (samples.jsonl, the response cache), so the same command resumes.
      console.error(`error: MLLM server: ${err.message}\nIs the server up and RESAGENT_MLLM_URL / http.baseUrls right? Finished samples are kept; rerun the same command to resume.`);
      return 1;
    }
    if (err instanceof UsageError) return 2;
    // A missing, unreadable or unwritable path, a full disk: the user's to fix, named in one line.
    const fsLine = fileSystemErrorLine(err);
    if (fsLine) {
      console.error(`error: ${fsLine}`);
      return 2;
    }
    if (err instanceof ExitStatus) return err.code;
    throw err;
  }
}
