import { trainPointValue, RANKER_MODEL_DEFAULTS, RANKER_TRAIN_DEFAULTS } from "@resagent/learned";
const data = "/tmp/pv/cache/learned/point-value-synthref-f00b7355bcbe";
const variants = {
  small6: { model: { ...RANKER_MODEL_DEFAULTS, filters: [8, 16, 32], patchFilters: [8, 16, 16], dense: 32 }, train: { ...RANKER_TRAIN_DEFAULTS, epochs: 6 } },
  nomask6: { model: { ...RANKER_MODEL_DEFAULTS, features: { ...RANKER_MODEL_DEFAULTS.features, baseMask: false } }, train: { ...RANKER_TRAIN_DEFAULTS, epochs: 6 } },
  default6: { model: RANKER_MODEL_DEFAULTS, train: { ...RANKER_TRAIN_DEFAULTS, epochs: 6 } },
};
for (const [name, v] of Object.entries(variants)) {
  const r = await trainPointValue({ data, out: `/tmp/pv/v-${name}`, seed: 0, heldOut: 0.2, targetScale: 0.1, log: () => {}, ...v });
  const row = (p) => r.heldOut[p].map((x) => `k${x.k}: L${x.learned.toFixed(4)} S${x.spiral.toFixed(4)} O${x.oracle.toFixed(4)} g${x.gapClosed === null ? "-" : x.gapClosed.toFixed(2)} n${x.ndcgLearned.toFixed(3)}`).join(" | ");
  console.log(`${name} cpu ${r.seconds.cpu.toFixed(0)}s\n  spiral: ${row("spiral")}\n  random: ${row("random")}\n  epochs: ${r.epochs.map((e) => e.heldOutMetric.toFixed(2)).join(" ")}`);
}
