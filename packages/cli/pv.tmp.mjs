import { generatePointValue, POINT_VALUE_DEFAULTS } from "@resagent/datagen";
const t = Date.now();
const s = await generatePointValue({ ...POINT_VALUE_DEFAULTS, sources: ["refcoco/val","refcoco+/val","refcocog/val"].map(split => ({ name: "synthref", split, options: { seed: 1, count: 400 } })), out: "/tmp/pv/gen1", samples: Number(process.argv[2] ?? 8), spiral: Number(process.argv[3] ?? 4), random: Number(process.argv[4] ?? 2) });
const { records, ...rest } = s;
console.log(JSON.stringify(rest, null, 1));
console.log(records.map(r => r.candidates.length).join(","));
