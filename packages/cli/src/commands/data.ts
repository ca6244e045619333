import { userPath } from "@resagent/core";
import { openDataset } from "@resagent/data";
import type { CommandModule } from "yargs";

interface Args {
  action: string;
  dataset: string;
  split: string;
  root?: string;
  "split-by"?: string;
  unit?: string;
}

export const dataCommand: CommandModule<object, Args> = {
  command: "data <action> <dataset>",
  describe: "Dataset tools: `data stats <dataset> --split <s>` prints refs, sentences and images of a split",
  builder: (y) =>
    y
      .positional("action", { type: "string", choices: ["stats"], demandOption: true, describe: "stats: refs, sentences and images of a split" })
      .positional("dataset", { type: "string", demandOption: true, describe: "refcoco, refcoco+, refcocog, synthref (see `pnpm resagent ls datasets`)" })
      .option("split", { type: "string", demandOption: true, describe: "split to read: val, testA, testB, test, train (synthref: e.g. refcoco/val)" })
      .option("root", { type: "string", describe: "data root (default $RESAGENT_DATA_ROOT)" })
      .option("split-by", { type: "string", describe: "REFER splitBy (default unc, unc, umd)" })
      .option("unit", { type: "string", choices: ["sentence", "ref"], describe: "REFER evaluation unit" }) as never,
  handler: async (args) => {
    const t0 = performance.now();
    const ds = await openDataset(args.dataset, {
      split: args.split,
      ...(args.root ? { root: userPath(args.root, "--root") } : {}),
      ...(args["split-by"] ? { splitBy: args["split-by"] } : {}),
      ...(args.unit ? { unit: args.unit } : {}),
    });
    const stats = (ds as unknown as { stats?: Record<string, number> }).stats;
    console.log(`${ds.name}  [${ds.provenance}]`);
    if (stats) for (const [k, v] of Object.entries(stats)) console.log(`  ${k.padEnd(10)} ${v}`);
    else console.log(`  samples    ${ds.size}`);
    console.log(`  (index loaded in ${((performance.now() - t0) / 1000).toFixed(2)} s; masks decode lazily)`);
  },
};
