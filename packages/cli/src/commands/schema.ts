import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "@resagent/core";
import { findRoot, jsonSchemaFiles } from "@resagent/experiments";
import type { CommandModule } from "yargs";
import { ExitStatus } from "../exit-status.js";

export const schemaCommand: CommandModule<object, { write: boolean; check: boolean }> = {
  command: "schema",
  describe: "The JSON Schemas of experiment and profile files (configs/schema.json, configs/profile.schema.json), generated from the config schema; editors with yaml-language-server use them",
  builder: (y) =>
    y
      .option("write", { type: "boolean", default: false, describe: "write them into configs/ (after changing the schema)" })
      .option("check", { type: "boolean", default: false, describe: "exit 1 when the files in configs/ are stale" }) as never,
  handler: async (args) => {
    const root = findRoot();
    const files = jsonSchemaFiles();
    let stale = 0;
    for (const [name, text] of Object.entries(files)) {
      const path = join(root, "configs", name);
      if (args.write) {
        await writeFileAtomic(path, text);
        console.log(`wrote ${path}`);
      } else if (args.check) {
        let current = "";
        try {
          current = readFileSync(path, "utf8");
        } catch {
          // missing counts as stale
        }
        if (current !== text) {
          stale++;
          console.log(`stale: ${path} (run pnpm resagent schema --write)`);
        } else console.log(`up to date: ${path}`);
      } else console.log(text);
    }
    if (stale) throw new ExitStatus(1);
  },
};
