import { isObject } from "@resagent/core";
import { describeStandIn, type LoadedExperiment } from "./load.js";

/** Leaves of a nested config as "a.b.c" -> value (arrays are leaves). */
export function flatten(v: unknown, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  if (isObject(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = v;
  return out;
}

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/**
 * The resolved pipeline of every cell: the keys all cells share once, then what each cell sets
 * differently, plus stand-ins and missing presets. Together that is each cell's complete config.
 * What `exp --dry-run` and `validate` print, so a user sees exactly what each table row will run.
 */
export function describeCells(exp: LoadedExperiment): string {
  const flat = exp.cells.map((c) => flatten(c.pipeline));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))];
  const shared = keys.filter((k) => new Set(flat.map((f) => JSON.stringify(f[k]))).size === 1);
  const lines: string[] = [exp.cells.length > 1 ? "every cell:" : `cell "${exp.cells[0]?.id}":`];
  for (const k of shared) lines.push(`    ${k} = ${show(flat[0]![k])}`);
  exp.cells.forEach((cell, i) => {
    const own = keys.filter((k) => !shared.includes(k)).map((k) => `${k} = ${k in flat[i]! ? show(flat[i]![k]) : "(unset)"}`);
    const marks = [
      ...(cell.datasets ? [`datasets = ${cell.datasets.join(", ")} (this row only)`] : []),
      ...cell.standIns.map((s) => `STAND-IN ${describeStandIn(s)}`),
      ...cell.missing.map((m) => `MISSING @${m.preset} needs ${m.unset.join(", ")} (unset)`),
    ];
    if (exp.cells.length > 1 || marks.length) lines.push(`cell "${cell.id}": ${[...own, ...marks].join("; ") || "(as above)"}`);
  });
  return lines.join("\n");
}
