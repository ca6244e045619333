/*
 * The one escaping helper for everything the harness writes into HTML, SVG, XML or LaTeX. Values
 * read from run files are untrusted whatever type they are supposed to have: each is coerced with
 * String() first, so a "number" that is really a string of markup is escaped like any text.
 */

/** Markup characters and what they become; the quotes too, so the result is safe in attribute values. */
export const MARKUP_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

const hex4 = (n: number) => n.toString(16).padStart(4, "0");
/**
 * C0 controls other than tab, newline and carriage return are not allowed in XML 1.0 even as
 * references (an SVG holding one does not render), nor are the noncharacters U+FFFE and U+FFFF.
 */
const XML_FORBIDDEN = new RegExp(`[${[[0x00, 0x08], [0x0b, 0x0c], [0x0e, 0x1f], [0xfffe, 0xffff]].map(([a, b]) => `\\u${hex4(a!)}-\\u${hex4(b!)}`).join("")}]`, "g");
const MARKUP_SPECIAL = /[&<>"']/g;

/**
 * Any value as text for HTML, SVG or XML, inside elements or quoted attribute values: & < > " '
 * escaped, characters XML forbids replaced by U+FFFD.
 */
export function escapeMarkup(value: unknown): string {
  return String(value).replace(XML_FORBIDDEN, "\ufffd").replace(MARKUP_SPECIAL, (c) => MARKUP_ESCAPES[c]!);
}

/**
 * `escapeMarkup` as the source of a standalone browser function named `name` (no imports, ES5),
 * generated from the same tables, so a page's script escapes by exactly the same rules.
 */
export function escapeMarkupSource(name: string): string {
  return `function ${name}(v) { var m = ${JSON.stringify(MARKUP_ESCAPES)}; return String(v).replace(new RegExp(${JSON.stringify(XML_FORBIDDEN.source)}, "g"), "\\ufffd").replace(new RegExp(${JSON.stringify(MARKUP_SPECIAL.source)}, "g"), function (c) { return m[c]; }); }`;
}

/** LaTeX specials and typographic characters, as text-mode LaTeX. */
const LATEX_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\textbackslash{}",
  "&": "\\&",
  "%": "\\%",
  $: "\\$",
  "#": "\\#",
  _: "\\_",
  "{": "\\{",
  "}": "\\}",
  "~": "\\textasciitilde{}",
  "^": "\\textasciicircum{}",
  "<": "\\textless{}",
  ">": "\\textgreater{}",
  // A line break would end a `%` comment line and let the rest run as LaTeX.
  "\n": " ",
  "\r": " ",
  "τ": "$\\tau$",
  "±": "$\\pm$",
  "−": "$-$",
  "–": "--",
  "—": "---",
  "×": "$\\times$",
  "≤": "$\\leq$",
  "≥": "$\\geq$",
  "…": "\\ldots{}",
  "·": "$\\cdot$",
  "‹": "<",
  "›": ">",
};

/** Any value as LaTeX text (also safe on a `%` comment line): specials escaped, line breaks and control characters made spaces. */
export function escapeLatex(value: unknown): string {
  let out = "";
  for (const c of String(value)) {
    const code = c.codePointAt(0)!;
    out += LATEX_ESCAPES[c] ?? (code < 0x20 || code === 0x7f ? " " : c);
  }
  return out;
}
