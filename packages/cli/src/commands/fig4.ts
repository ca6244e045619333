import { gitCommit, userPath, writeFileAtomic } from "@resagent/core";
import { FIG4_DEFAULTS, fig4Plot, versions } from "@resagent/experiments";
import type { CommandModule } from "yargs";

interface Args {
  out: string;
  seed: number;
  k: number;
}

export const fig4Command: CommandModule<object, Args> = {
  command: "fig4",
  describe: "Reproduce paper Fig. 4: spiral trajectories and sampled points for 3 aspect ratios x 8 configurations (SVG + PNG)",
  builder: (y) =>
    y
      .option("out", { type: "string", default: "results/fig4/fig4", describe: "output path without extension" })
      .option("seed", { type: "number", default: FIG4_DEFAULTS.seed, describe: "seed of the spiral jitter and sampling" })
      .option("k", { type: "number", default: FIG4_DEFAULTS.k, describe: "candidates per queue to highlight" }) as never,
  handler: async (args) => {
    const options = { ...FIG4_DEFAULTS, seed: args.seed, k: args.k };
    const plot = fig4Plot(options);
    const commit = gitCommit();
    const createdAt = new Date().toISOString();
    plot.provenance(`seed ${options.seed} · k ${options.k} · commit ${commit.slice(0, 10)} · ${createdAt.slice(0, 10)}`, plot.width - 10, plot.height - 6, "end");
    const files = await plot.save(userPath(args.out, "--out"));
    // What made the figure, beside it.
    const meta = `${userPath(args.out, "--out")}.json`;
    await writeFileAtomic(meta, `${JSON.stringify({ figure: "fig4", options, gitCommit: commit, versions: versions(), createdAt }, null, 2)}\n`);
    console.log(`written ${files.svg}\nwritten ${files.png}\nwritten ${meta}`);
  },
};
