import type { MarkerColour, MarkerShape } from "./markers.js";

/** The paper's VBR question (§3.4). */
export const VBR_PROMPT = "Answer strictly yes or no: Is the {color}-colored {marker} on the object referred to by '{expr}' in the picture?";

/** The paper's unified textual template (appendix §7.4); {FORMAT} is one of TEXTUAL_FORMATS. */
export const TEXTUAL_PROMPT = "Answer strictly yes or no: Is the Point {FORMAT} on the object referred to by '{expr}' in the picture?";

/** Table 9's three textual coordinate formats. */
export const TEXTUAL_FORMATS = {
  "(x,y)": (x: number, y: number) => `(${x},${y})`,
  "x is, y is": (x: number, y: number) => `x is ${x}, y is ${y}`,
  "x=, y=": (x: number, y: number) => `x = ${x}, y = ${y}`,
} as const;
export type TextualFormat = keyof typeof TEXTUAL_FORMATS;

/** The authors' later multi-marker variant: up to 8 lettered markers, one answer line each. */
export const VBR_MULTI_PROMPT =
  "The picture shows {n} {marker} markers labelled {labels}. For each label, answer strictly yes or no: is that marker on the object referred to by '{expr}'? Reply with one line per label, like 'A: yes'.";

export function vbrPrompt(expr: string, colour: MarkerColour, shape: MarkerShape): string {
  return VBR_PROMPT.replace("{color}", colour).replace("{marker}", shape).replace("{expr}", expr);
}

export function textualPrompt(expr: string, format: TextualFormat, x: number, y: number): string {
  return TEXTUAL_PROMPT.replace("{FORMAT}", TEXTUAL_FORMATS[format](x, y)).replace("{expr}", expr);
}

export function vbrMultiPrompt(expr: string, labels: readonly string[], shape: MarkerShape): string {
  return VBR_MULTI_PROMPT.replace("{n}", String(labels.length)).replace("{marker}", shape).replace("{labels}", labels.join(", ")).replace("{expr}", expr);
}

/** Per-label yes/no from a VBR-multi answer ("A: yes" lines, any case, tolerant of punctuation). */
export function parseMultiAnswer(text: string, labels: readonly string[]): (boolean | null)[] {
  const out = new Map<string, boolean>();
  for (const m of text.matchAll(/\b([A-H])\s*[:.)-]\s*(yes|no)\b/gi)) if (!out.has(m[1]!.toUpperCase())) out.set(m[1]!.toUpperCase(), m[2]!.toLowerCase() === "yes");
  return labels.map((l) => out.get(l) ?? null);
}
