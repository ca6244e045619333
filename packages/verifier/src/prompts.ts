import type { MarkerColour, MarkerShape } from "./markers.js";
import { parseMultiAnswers } from "./probability.js";

/**
 * Whose wording the questions use. "authors": byte for byte what the authors' code sends, which is
 * what their LoRA verifier was trained on. "paper": the paper's text with ASCII quotes (what this
 * harness sent before issue 19). The paper typesets the quote as ‘{expr}’, which is LaTeX for the
 * code's `{expr}' (backtick, apostrophe); the words differ only where noted below.
 */
export type PromptStyle = "authors" | "paper";
export const PROMPT_STYLES: readonly PromptStyle[] = ["authors", "paper"];

/**
 * The VBR question (paper §3.4 and §9.1.2). authors: `tools.py` `get_points_check_messages`, whose
 * marker word is fixed to "star" (the only inference marker, paper §3.5); {marker} is the shape
 * drawn, so the default star gives the authors' bytes exactly.
 */
export const VBR_PROMPTS: Record<PromptStyle, string> = {
  authors: "Answer strictly yes or no: Is the {color}-colored {marker} on the object referred to by `{expr}' in the picture?",
  paper: "Answer strictly yes or no: Is the {color}-colored {marker} on the object referred to by '{expr}' in the picture?",
};

/**
 * The unified textual template (appendix §7.4); {FORMAT} is one of TEXTUAL_FORMATS. authors:
 * `format_textual_point_prompt` in `sam2/resagent_full_eval_point_strategies_textual_qwen25_fix1.py`
 * and `get_points_check_messages_corr` in `tools.py`.
 */
export const TEXTUAL_PROMPTS: Record<PromptStyle, string> = {
  authors: "Answer strictly yes or no: Is the Point {FORMAT} on the object referred to by `{expr}' in the picture?",
  paper: "Answer strictly yes or no: Is the Point {FORMAT} on the object referred to by '{expr}' in the picture?",
};

/** Table 9's three textual coordinate formats (the same in the authors' textual script). */
export const TEXTUAL_FORMATS = {
  "(x,y)": (x: number, y: number) => `(${x},${y})`,
  "x is, y is": (x: number, y: number) => `x is ${x}, y is ${y}`,
  "x=, y=": (x: number, y: number) => `x = ${x}, y = ${y}`,
} as const;
export type TextualFormat = keyof typeof TEXTUAL_FORMATS;

/**
 * The batched multi-marker question. authors: `build_multi_marker_prompt` in the final eval script
 * ({format} = one "A: yes" line per label). The paper has no such question; "paper" keeps this
 * harness's own wording from before issue 19.
 */
export const VBR_MULTI_PROMPTS: Record<PromptStyle, string> = {
  authors:
    "The image contains several marked points labeled {labels}.\nFor each label, decide whether the CENTER of that marked point lies on the object referred to by: '{expr}'.\nReturn only one line per label in exactly this format:\n{format}\nReplace yes with no when needed. Use only yes or no. Do not output JSON. Do not explain.",
  paper:
    "The picture shows {n} {marker} markers labelled {labels}. For each label, answer strictly yes or no: is that marker on the object referred to by '{expr}'? Reply with one line per label, like 'A: yes'.",
};

/** Today's defaults under their old names. */
export const VBR_PROMPT = VBR_PROMPTS.authors;
export const TEXTUAL_PROMPT = TEXTUAL_PROMPTS.authors;
export const VBR_MULTI_PROMPT = VBR_MULTI_PROMPTS.authors;

/**
 * Fill {name} slots in one pass, so an expression containing "{marker}" or "$'" is inserted as
 * written (String.replace with a string would expand "$'" and friends).
 */
function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (Object.hasOwn(vars, k) ? vars[k]! : m));
}

export function vbrPrompt(expr: string, colour: MarkerColour, shape: MarkerShape, style: PromptStyle = "authors"): string {
  return fill(VBR_PROMPTS[style], { color: colour, marker: shape, expr });
}

export function textualPrompt(expr: string, format: TextualFormat, x: number, y: number, style: PromptStyle = "authors"): string {
  return fill(TEXTUAL_PROMPTS[style], { FORMAT: TEXTUAL_FORMATS[format](x, y), expr });
}

export function vbrMultiPrompt(expr: string, labels: readonly string[], shape: MarkerShape | "lettered", style: PromptStyle = "authors"): string {
  return fill(VBR_MULTI_PROMPTS[style], { n: String(labels.length), marker: shape, labels: labels.join(", "), format: labels.map((l) => `${l}: yes`).join("\n"), expr });
}

/** Per-label yes/no from a VBR-multi answer, read as the authors' final script reads it (see `parseMultiAnswers`). */
export function parseMultiAnswer(text: string, labels: readonly string[]): (boolean | null)[] {
  return parseMultiAnswers(text, labels).map((a) => (a === null ? null : a === "yes"));
}
