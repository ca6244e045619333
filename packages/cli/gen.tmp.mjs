import { generatePointValue } from "@resagent/datagen";
import { defaultPointValueDataDir } from "@resagent/learned";
const n = Number(process.argv[2] ?? 120);
const d = defaultPointValueDataDir(n);
console.log(d.dir);
const s = await generatePointValue({ ...d.options, out: d.dir, progress: (a, b) => { if (a % 10 === 0) console.log(`${a}/${b}`); } });
const { records, ...rest } = s;
console.log(JSON.stringify({ ...rest, values: rest.values.all }, null, 1));
