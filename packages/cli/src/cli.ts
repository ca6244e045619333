import { InputError } from "@resagent/core";
import { HttpError } from "@resagent/mllm";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gitCommit } from "@resagent/experiments";
import yargs, { type CommandModule } from "yargs";
import { benchCommand } from "./commands/bench.js";
import { dataCommand } from "./commands/data.js";
import { makeDocsCommand, publishCommand } from "./commands/docs.js";
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

/** Every command, in the order `--help` lists them (a test checks each option has a description). */
export const COMMANDS: readonly CommandModule<object, never>[] = [
  expCommand,
  lsCommand,
  validateCommand,
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

/** A command that has said what went wrong and wants this exit status (validate: 1 when something is missing). */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}

class UsageError extends Error {}

/**
 * Run the `resagent` command line on `argv` (without node and the script) in this process and
 * return the exit status: 0 done, 1 a check failed or a model server failed, 2 bad input or usage
 * (one line on stderr).
 * Anything else is a bug and is thrown.
 */
export async function runCli(argv: string[], options: { wrap?: number } = {}): Promise<number> {
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
    .fail((msg, err, y) => {
      if (err) throw err;
      console.error(`${msg}\n`);
      y.showHelp();
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
    if (err instanceof ExitStatus) return err.code;
    throw err;
  }
}
