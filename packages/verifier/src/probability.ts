import type { TokenLogprob, TopLogprob } from "@resagent/mllm";

/** A token as the yes/no matcher sees it: BPE space markers (Ġ, ▁) and spaces stripped, lower case. */
export function normaliseToken(token: string): string {
  return token.replace(/^[\sĠ▁]+/u, "").replace(/[\s.,!]+$/u, "").toLowerCase();
}

/**
 * A token as the authors' `_summarize_yes_no_probs` compares it: `str(tok).strip().lower()`, where
 * `tok` is the tokenizer's decoded text. Servers may print the raw BPE marker (Ġ, ▁) instead of the
 * space it stands for, so those are stripped with the whitespace; punctuation is not ("Yes." is no
 * "yes" form there).
 */
export function authorsToken(token: string): string {
  return token.replace(/^[\sĠ▁Ċ]+|[\sĠ▁Ċ]+$/gu, "").toLowerCase();
}

/**
 * How an answer's top-k logprobs become the confidence compared with τ (paper Eq. 6).
 * - "absolute" (default; "pa" is the same, the paper's PA): the decision is the decoded answer; its
 *   confidence is the summed full-vocabulary probability of that answer's surface forms among the
 *   top-k (exp of each logprob: vLLM's logprobs are log-softmax over the whole vocabulary, as the
 *   authors' `torch.softmax` then `torch.topk(k=5)`; tools.py 1027–1045). When none of the answer's
 *   forms is among the top-k the confidence cannot be computed and the answer is kept without the
 *   τ test, as the authors' `select_points_from_queues` keeps it (final 1743–1750).
 * - "normalised" (this harness before issue 20): P(yes) = Σ yes forms / (Σ yes forms + Σ no forms)
 *   over the top-k; the point is positive when P(yes) ≥ τ, negative when 1 − P(yes) ≥ τ.
 * - "decoded" (PA off, Table 2 row 3): only the decoded answer counts, P(yes) is 1 or 0.
 */
export type Aggregation = "absolute" | "pa" | "normalised" | "decoded";
export const AGGREGATIONS: readonly Aggregation[] = ["absolute", "pa", "normalised", "decoded"];

/** What the verifier reads from one answer. */
export interface AnswerReading {
  /** The decoded answer; null when it says neither yes nor no (an abstention). */
  answer: "yes" | "no" | null;
  /**
   * P(yes) for records, plots and the normalised rule: Σ yes / (Σ yes + Σ no) over the top-k, or
   * 1 / 0 from the decoded answer when the top-k holds neither. Null for an abstention.
   */
  pYes: number | null;
  /** The number compared with τ for the decoded answer; null: not computable (absolute), kept untested. */
  confidence: number | null;
  /** Summed probabilities of the yes / no forms among the top-k (absolute and normalised; 0 when absent). */
  yesMass?: number;
  noMass?: number;
}

/** The first yes/no word of an answer, as the authors' `parse_binary_yes_no` (true/false/1/0 count too). */
export function decodedAnswer(text: string): "yes" | "no" | null {
  const m = /\b(yes|no|true|false|1|0)\b/i.exec(text);
  if (!m) return null;
  const w = m[1]!.toLowerCase();
  return w === "yes" || w === "true" || w === "1" ? "yes" : "no";
}

/** Σ exp(logprob) of the yes and no forms among `top`, each token compared by `norm`. */
export function yesNoMass(top: readonly TopLogprob[], norm: (t: string) => string = authorsToken): { yes: number; no: number } {
  let yes = 0;
  let no = 0;
  for (const t of top) {
    const n = norm(t.token);
    if (n === "yes") yes += Math.exp(t.logprob);
    else if (n === "no") no += Math.exp(t.logprob);
  }
  return { yes, no };
}

/** The harness's first-word reading (normalised and decoded modes, unchanged since before issue 20). */
function firstWord(text: string): "yes" | "no" | null {
  const t = normaliseToken(text.split(/\s+/u).find((w) => w.trim()) ?? "");
  return t === "yes" ? "yes" : t === "no" ? "no" : null;
}

/**
 * Read one answer: `top` is the top-k at the token where the answer starts (the first token for
 * VBR and textual queries), `decodedText` the answer as generated.
 */
export function readAnswer(top: readonly TopLogprob[] | undefined, decodedText: string, mode: Aggregation): AnswerReading {
  if (mode === "absolute" || mode === "pa") {
    const answer = decodedAnswer(decodedText);
    if (!answer) return { answer: null, pYes: null, confidence: null };
    if (!top || top.length === 0) return { answer, pYes: answer === "yes" ? 1 : 0, confidence: null };
    const { yes, no } = yesNoMass(top);
    const mass = answer === "yes" ? yes : no;
    return { answer, pYes: yes + no > 0 ? yes / (yes + no) : answer === "yes" ? 1 : 0, confidence: mass > 0 ? mass : null, yesMass: yes, noMass: no };
  }
  if (mode === "decoded" || !top || top.length === 0) {
    const answer = firstWord(decodedText);
    return { answer, pYes: answer === null ? null : answer === "yes" ? 1 : 0, confidence: answer === null ? null : 1 };
  }
  const pYes = aggregateYesProbability(top, decodedText, "normalised");
  if (pYes === null) return { answer: null, pYes: null, confidence: null };
  const { yes, no } = yesNoMass(top, normaliseToken);
  return { answer: pYes >= 0.5 ? "yes" : "no", pYes, confidence: Math.max(pYes, 1 - pYes), yesMass: yes, noMass: no };
}

/**
 * P(yes) from a first-token answer as this harness computed it before issue 20 ("normalised"):
 * softmax over the returned top-k logprobs, then the mass of every "yes" surface form over the mass
 * of "yes" and "no" forms together; "decoded": the decoded token only, 1 or 0. Null when neither
 * answer is present. "absolute"/"pa" have no single P(yes): use `readAnswer`.
 */
export function aggregateYesProbability(top: readonly TopLogprob[] | undefined, decodedText: string, mode: "normalised" | "decoded"): number | null {
  if (mode === "decoded" || !top || top.length === 0) {
    const a = firstWord(decodedText);
    return a === "yes" ? 1 : a === "no" ? 0 : null;
  }
  // Softmax over the top-k; its normaliser cancels in the ratio, so unnormalised masses suffice.
  const max = Math.max(...top.map((t) => t.logprob));
  let yes = 0;
  let no = 0;
  for (const t of top) {
    const p = Math.exp(t.logprob - max);
    const n = normaliseToken(t.token);
    if (n === "yes") yes += p;
    else if (n === "no") no += p;
  }
  return yes + no > 0 ? yes / (yes + no) : null;
}

/** One label's answer in a VBR-multi reply and the generated token where that answer starts. */
export interface LabelAnswer {
  answer: "yes" | "no" | null;
  /** Index into the generated tokens of the token holding the answer's first character; null when not found. */
  token: number | null;
}

/** Token text as the authors concatenate decoded tokens (raw BPE markers mapped back to space / newline). */
function tokenText(t: string): string {
  return t.replace(/Ġ/gu, " ").replace(/Ċ/gu, "\n").replace(/▁/gu, " ");
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `normalize_answer`: yes/true/1/y and no/false/0/n (any case, stripped); anything else is no answer. */
function normaliseAnswer(x: unknown): "yes" | "no" | null {
  if (typeof x === "boolean") return x ? "yes" : "no";
  if (typeof x !== "string") return null;
  const v = x.trim().toLowerCase();
  return ["yes", "true", "1", "y"].includes(v) ? "yes" : ["no", "false", "0", "n"].includes(v) ? "no" : null;
}

/** `_parse_multi_marker_lines`: one answer per "A: yes" / "A is yes" line; a later line for a label replaces an earlier one. */
function answerLines(raw: string): Map<string, "yes" | "no" | null> {
  const text = raw.replace(/；/g, "\n").replace(/;/g, "\n").replace(/，/g, ",");
  // Python's str.splitlines() boundaries (the three information separators U+001C-U+001E included).
  const separators = String.fromCharCode(0x1c, 0x1d, 0x1e);
  const lines = [...text]
    .map((c) => (separators.includes(c) ? "\n" : c))
    .join("")
    .split(/\r\n|[\n\r\v\f\u0085\u2028\u2029]/u)
    .map((l) => l.trim())
    .filter(Boolean);
  const patterns = [/^\s*([A-Z]\d*|P\d+)\s*[:=-]\s*(yes|no|true|false|1|0)\b/i, /^\s*\(?([A-Z]\d*|P\d+)\)?\s*(?:is|->)\s*(yes|no|true|false|1|0)\b/i];
  const out = new Map<string, "yes" | "no" | null>();
  for (const line of lines) {
    for (const re of patterns) {
      const m = re.exec(line);
      if (m) {
        out.set(m[1]!.toUpperCase(), normaliseAnswer(m[2]));
        break;
      }
    }
  }
  return out;
}

/** `parse_json_from_text`: a fenced or bare {...} object; Python literals (single quotes, True/False/None) read too. */
function answerObject(raw: string): Record<string, unknown> | null {
  const text = raw.trim();
  const m = /```(?:json)?\s*(\{[\s\S]*?\})\s*```/.exec(text) ?? /(\{[\s\S]*\})/.exec(text);
  if (!m) return null;
  const body = m[1]!;
  const python = () => body.replace(/'([^'\\]*)'/g, (_, s: string) => JSON.stringify(s)).replace(/\bTrue\b/g, "true").replace(/\bFalse\b/g, "false").replace(/\bNone\b/g, "null");
  for (const load of [() => body, python]) {
    try {
      const v: unknown = JSON.parse(load());
      if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // the next reading
    }
  }
  return null;
}

/**
 * Each label's answer as the authors' `parse_multi_marker_predictions` reads it: answer lines
 * first (when any line is one, labels without a line have no answer); else a JSON object
 * ({"A": "yes"} or {"A": {"answer": "yes"}}); else a search for the label followed by its answer.
 */
export function parseMultiAnswers(raw: string, labels: readonly string[]): ("yes" | "no" | null)[] {
  const lines = answerLines(raw);
  if (lines.size) return labels.map((l) => lines.get(l.toUpperCase()) ?? null);
  const obj = answerObject(raw);
  if (obj) {
    return labels.map((l) => {
      const v = obj[l];
      return v && typeof v === "object" ? normaliseAnswer((v as Record<string, unknown>).answer) : normaliseAnswer(v);
    });
  }
  return labels.map((l) => {
    const e = escapeRe(l);
    const m = new RegExp(String.raw`(?:^|[{,\n\s])"?${e}"?\s*[:=\-]\s*"?(yes|no|true|false|1|0)\b"?`, "im").exec(raw) ?? new RegExp(String.raw`\b${e}\b[^\n:=-]{0,12}[:=\-]?[^\nA-Za-z0-9]{0,4}(yes|no)\b`, "im").exec(raw);
    return m ? normaliseAnswer(m[1]) : null;
  });
}

/**
 * Each label's answer in a VBR-multi reply and the generated token where it starts, as the
 * authors' `parse_multi_marker_predictions` + `attach_token_confidence` (final script): the answer
 * as `parseMultiAnswers` reads it from the text; the token from a search of the concatenated
 * token texts for `^\s*A\s*[:=-]\s*(yes|no)` (any line) or `"A": "yes"`, mapped to the generated
 * token spanning the answer's first character. Where the text gave no answer, the token search's
 * answer stands. Answers the search cannot place (true/false, "A is yes", a label inside markup)
 * keep no token, so no confidence: the authors keep them without the τ test.
 */
export function readMultiAnswers(text: string, labels: readonly string[], tokens?: readonly TokenLogprob[]): LabelAnswer[] {
  const parsed = parseMultiAnswers(text, labels);
  const pieces = tokens?.length ? tokens.map((t) => tokenText(t.token)) : undefined;
  const joined = pieces?.join("");
  const ends: number[] = [];
  let cur = 0;
  for (const p of pieces ?? []) ends.push((cur += p.length));
  return labels.map((label, i) => {
    let answer = parsed[i] ?? null;
    let token: number | null = null;
    if (joined !== undefined) {
      const e = escapeRe(label);
      const m = new RegExp(String.raw`^\s*${e}\s*[:=\-]\s*(yes|no)\b`, "imd").exec(joined) ?? new RegExp(String.raw`"${e}"\s*:\s*"?(yes|no)"?`, "imd").exec(joined);
      if (m) {
        const at = m.indices![1]![0];
        const idx = ends.findIndex((end) => at < end);
        if (idx >= 0) {
          token = idx;
          answer ??= m[1]!.toLowerCase() as "yes" | "no";
        }
      }
    }
    return { answer, token };
  });
}

/**
 * Read one VBR-multi label: its decoded answer, and its confidence from the top-k of the token
 * where the answer starts (the authors' `attach_token_confidence`). Without that token the answer
 * stands without a confidence (absolute: kept untested, as the authors; normalised: P(yes) 1 / 0).
 */
export function readLabelAnswer(label: LabelAnswer, tokens: readonly TokenLogprob[] | undefined, mode: Aggregation): AnswerReading {
  if (!label.answer) return { answer: null, pYes: null, confidence: null };
  const top = label.token !== null ? tokens?.[label.token]?.top : undefined;
  if (mode === "decoded" || !top?.length) {
    const r = readAnswer(undefined, label.answer, mode);
    return mode === "normalised" || mode === "decoded" ? { ...r, confidence: 1 } : r;
  }
  return readAnswer(top, label.answer, mode);
}
