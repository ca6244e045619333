#!/usr/bin/env node
import { InputError } from "@resagent/core";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { benchCommand } from "./commands/bench.js";
import { dataCommand } from "./commands/data.js";
import { genVbrCommand, toSa1bCommand } from "./commands/datagen.js";
import { expCommand } from "./commands/exp.js";
import { lsCommand } from "./commands/ls.js";
import { mergeCommand } from "./commands/merge.js";
import { segmentCommand } from "./commands/segment.js";
import { validateCommand } from "./commands/validate.js";
import { fig4Command } from "./commands/fig4.js";
import { synthrefCommand } from "./commands/synthref.js";

await yargs(hideBin(process.argv))
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
  .demandCommand(1, "name a command (see --help)")
  .strict()
  .help()
  .fail((msg, err, y) => {
    if (err instanceof InputError) {
      console.error(`error: ${err.message}`);
      process.exit(2);
    }
    if (err) throw err;
    console.error(`${msg}\n`);
    y.showHelp();
    process.exit(2);
  })
  .parseAsync();
