import { resolve } from "node:path";
import { FIG4_DEFAULTS, fig4Plot } from "@resagent/experiments";
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
      .option("seed", { type: "number", default: FIG4_DEFAULTS.seed })
      .option("k", { type: "number", default: FIG4_DEFAULTS.k, describe: "candidates per queue to highlight" }) as never,
  handler: async (args) => {
    const files = await fig4Plot({ ...FIG4_DEFAULTS, seed: args.seed, k: args.k }).save(resolve(args.out));
    console.log(`written ${files.svg}\nwritten ${files.png}`);
  },
};
