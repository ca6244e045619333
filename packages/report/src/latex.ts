import { escapeLatex } from "@resagent/core";
import type { SummaryTable } from "./run.js";

/** Which way is better for a column's value; columns with no clear direction get no bold. */
const HIGHER_BETTER = new Set(["mIoU", "gIoU", "cIoU", "acc", "precision", "recall", "f1", "tp", "tn"]);
const LOWER_BETTER = new Set(["fp", "fn", "msPerSample", "decodeMsPerSample", "queriesPerSample", "groundingFailures"]);

/** Kept for callers of the report package; the rules are core's `escapeLatex`. */
export const texEscape: (value: unknown) => string = escapeLatex;

/** A leading number of a paper entry ("4.03 s" -> 4.03), for bolding. */
function numeric(v: number | string | null | undefined): number | null {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return null;
  const m = v.match(/^\s*(-?\d+(?:\.\d+)?)/);
  return m ? Number(m[1]) : null;
}

/** Indices of the best entries of a column (ties all bold), or none when the column has no direction. */
function best(values: (number | null)[], metric: string | undefined): Set<number> {
  const dir = metric && HIGHER_BETTER.has(metric) ? 1 : metric && LOWER_BETTER.has(metric) ? -1 : 0;
  const defined = values.filter((v): v is number => v !== null && !Number.isNaN(v));
  if (!dir || defined.length < 2) return new Set();
  const target = dir > 0 ? Math.max(...defined) : Math.min(...defined);
  return new Set(values.flatMap((v, i) => (v !== null && Math.abs(v - target) < 1e-9 ? [i] : [])));
}

/**
 * The table as LaTeX (booktabs): the paper's rows first (other methods and the paper's numbers
 * for our configurations, as the paper printed them), then ours with ± half the 95% interval
 * and n in the header. The best value per column is bold within each block. Needs
 * \usepackage{booktabs}.
 */
export function tableLatex(t: SummaryTable, options: { simulated?: boolean } = {}): string {
  const ncol = t.headers.length;
  const ours = t.rows.filter((r) => !r.paperOnly);
  const scale = (i: number) => (t.percent[i] ? 100 : 1);
  const lines: string[] = [];
  lines.push(`% ${texEscape(t.title)}`);
  if (t.provenance) lines.push(`% ${texEscape(t.provenance)}`);
  lines.push("% Needs \\usepackage{booktabs}.");
  lines.push("\\begin{table}[t]", "\\centering", "\\small", `\\begin{tabular}{l${"c".repeat(ncol)}}`, "\\toprule");
  const nOf = (i: number) => {
    const ns = new Set(ours.map((r) => r.n?.[i] ?? null));
    const [only] = [...ns];
    return ns.size === 1 && typeof only === "number" ? only : null;
  };
  lines.push(` & ${t.headers.map((h) => texEscape(h)).join(" & ")} \\\\`);
  lines.push("\\midrule");
  // Block 1: the paper's numbers (other methods' rows and the paper's entries for our rows).
  const paperRows = t.rows.filter((r) => r.paper.some((p) => p !== null && p !== undefined && p !== ""));
  if (paperRows.length) {
    lines.push(`\\multicolumn{${ncol + 1}}{l}{\\textit{Reported in the paper}} \\\\`);
    const bold = t.headers.map((_, i) => best(paperRows.map((r) => numeric(r.paper[i])), t.metrics?.[i]));
    for (const [k, r] of paperRows.entries()) {
      const cells = t.headers.map((_, i) => {
        const p = r.paper[i];
        if (p === null || p === undefined || p === "") return "--";
        const s = texEscape(p);
        return bold[i]!.has(k) ? `\\textbf{${s}}` : s;
      });
      lines.push(`${texEscape(r.label)} & ${cells.join(" & ")} \\\\`);
    }
    lines.push("\\midrule");
  }
  // Block 2: ours.
  const ns = t.headers.map((_, i) => nOf(i));
  const nNote = ns.every((n) => n === ns[0]) && ns[0] !== null ? `, $n=${ns[0]}$ per entry` : "";
  lines.push(`\\multicolumn{${ncol + 1}}{l}{\\textit{This run${options.simulated ? " (SIMULATED: not comparable to the paper)" : ""}${nNote}}} \\\\`);
  const bold = t.headers.map((_, i) => best(ours.map((r) => r.ours[i] ?? null), t.metrics?.[i]));
  for (const [k, r] of ours.entries()) {
    const cells = t.headers.map((_, i) => {
      const v = r.ours[i];
      if (v === null || v === undefined || Number.isNaN(v)) return "--";
      const pct = t.percent[i] ?? false;
      const ci = r.ci?.[i];
      const digits = pct ? (ci ? 1 : 2) : Math.abs(v) >= 100 ? 0 : 2;
      const main = (scale(i) * v).toFixed(digits);
      const pm = ci ? `{\\scriptsize$\\pm$${((scale(i) * (ci[1] - ci[0])) / 2).toFixed(digits)}}` : "";
      const n = ns[i] === null && typeof r.n?.[i] === "number" ? `{\\scriptsize ($n=${r.n[i]}$)}` : "";
      return `${bold[i]!.has(k) ? `\\textbf{${main}}` : main}${pm}${n}`;
    });
    lines.push(`${texEscape(r.label)} & ${cells.join(" & ")} \\\\`);
  }
  lines.push("\\bottomrule", "\\end{tabular}");
  const iv = t.intervals;
  const caption = `${texEscape(t.title)}${iv ? `. $\\pm$: half the width of a ${texEscape(100 * iv.level)}\\% ${texEscape(iv.method)} (${texEscape(iv.replicates)} resamples, seed ${texEscape(iv.seed)})` : ""}.`;
  lines.push(`\\caption{${caption}}`, "\\end{table}");
  return `${lines.join("\n")}\n`;
}
