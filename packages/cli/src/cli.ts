import { InputError } from "@resagent/core";
import { HttpError } from "@resagent/mllm";
import yargs from "yargs";
import { benchCommand } from "./commands/bench.js";
import { dataCommand } from "./commands/data.js";
import { genVbrCommand, toSa1bCommand } from "./commands/datagen.js";
import { expCommand } from "./commands/exp.js";
import { fig4Command } from "./commands/fig4.js";
import { lsCommand } from "./commands/ls.js";
import { mergeCommand } from "./commands/merge.js";
import { segmentCommand } from "./commands/segment.js";
import { synthrefCommand } from "./commands/synthref.js";
import { trainVerifierCommand } from "./commands/train-verifier.js";
import { validateCommand } from "./commands/validate.js";

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
export async function runCli(argv: string[]): Promise<number> {
  const cli = yargs(argv)
    .scriptName("resagent")
    .command(expCommand)
    .command(lsCommand)
    .command(validateCommand)
    .command(mergeCommand)
    .command(segmentCommand)
    .command(dataCommand)
    .command(genVbrCommand)
    .command(toSa1bCommand)
    .command(synthrefCommand)
    .command(benchCommand)
    .command(fig4Command)
    .command(trainVerifierCommand)
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
