/** Small HTML helpers shared by the report, comparison and runs pages (self-contained: no network). */
import { createHash } from "node:crypto";
import { escapeMarkup } from "@resagent/core";

/** Every value these pages show goes through core's one escaping helper. */
export const esc: (value: unknown) => string = escapeMarkup;

/** JSON safe inside <script type="application/json">: no "</script>" or "<!--" can close it. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

export const BASE_CSS = `
:root { --fg: #1d1d1f; --muted: #666; --line: #ddd; --accent: #1f6fd1; --bad: #c62828; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; color: var(--fg); margin: 0; padding: 16px 24px 48px; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.simulated { background: #fff3cd; border: 2px solid #d39e00; color: #6b4f00; padding: 6px 10px; font-weight: 700; margin: 8px 0; border-radius: 4px; }
.muted, .note { color: var(--muted); }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; }
td .paper { color: var(--muted); font-size: 12px; }
td .pm { color: var(--muted); }
.flag { color: var(--bad); font-weight: 700; }
code { font-size: 12px; }
details { margin: 6px 0; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; }
`;

/** Any JSON value as HTML: objects as key/value lists, arrays of objects as tables (nested objects flattened to dotted columns). */
export function renderValue(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return `<span class="muted">–</span>`;
  if (typeof v === "number") return esc(Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, "").replace(/\.$/, ""));
  if (typeof v !== "object") return esc(v);
  if (Array.isArray(v)) {
    if (!v.length) return `<span class="muted">none</span>`;
    if (v.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))) {
      const rows = v.map((x) => flatten(x as Record<string, unknown>));
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      return `<table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>${rows.map((r) => `<tr>${cols.map((c) => `<td>${renderValue(r[c], depth + 1)}</td>`).join("")}</tr>`).join("")}</table>`;
    }
    return v.map((x) => renderValue(x, depth + 1)).join(", ");
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (!entries.length) return `<span class="muted">none</span>`;
  return `<dl class="kv">${entries.map(([k, x]) => `<dt>${esc(k)}</dt><dd>${renderValue(x, depth + 1)}</dd>`).join("")}</dl>`;
}

function flatten(o: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === "object" && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

const sha256Source = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

/**
 * The page's Content-Security-Policy: nothing loads or runs but its own inline style and script
 * (by hash of their text, computed here as the page is written), images from beside the page or
 * data: URLs, and nothing is sent anywhere. A value that slipped past escaping still cannot run.
 */
export function contentSecurityPolicy(css: string, script: string): string {
  return [
    "default-src 'none'",
    `style-src ${sha256Source(css)}`,
    `script-src ${script ? sha256Source(script) : "'none'"}`,
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** The generator line each page carries: `claimFile` recognises a page the harness wrote by it before overwriting one. */
export function generatorMeta(kind: "report" | "compare" | "runs"): string {
  return `<meta name="generator" content="resagent ${kind}">`;
}

export function page(kind: "report" | "compare" | "runs", title: string, body: string, extraCss = "", script = ""): string {
  const css = `${BASE_CSS}${extraCss}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(contentSecurityPolicy(css, script))}">
${generatorMeta(kind)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${css}</style>
</head>
<body>
${body}
${script ? `<script>${script}</script>` : ""}
</body>
</html>
`;
}
