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

/**
 * Each label's answer in a VBR-multi reply ("A: yes" lines) and the token where it starts, as the
 * authors' `parse_multi_marker_predictions` + `_find_step_for_answer` (final 1465–1589): a line
 * `^\s*A\s*[:=\-]\s*(yes|no)` per label (the first wins), its answer's character offset in the
 * concatenated token texts, and the generated token spanning that offset. Without tokens (no
 * logprobs asked) only the answers are read from `text`.
 */
export function readMultiAnswers(text: string, labels: readonly string[], tokens?: readonly TokenLogprob[]): LabelAnswer[] {
  const pieces = tokens?.length ? tokens.map((t) => tokenText(t.token)) : undefined;
  const joined = pieces?.join("");
  const ends: number[] = [];
  let cur = 0;
  for (const p of pieces ?? []) ends.push((cur += p.length));
  const find = (source: string, label: string): { answer: "yes" | "no"; at: number } | null => {
    const esc = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // The authors' line pattern first; then this harness's tolerant one ("A) yes", "A. no" anywhere).
    const m = new RegExp(String.raw`^\s*${esc}\s*[:=\-]\s*(yes|no)\b`, "im").exec(source) ?? new RegExp(String.raw`\b${esc}\s*[:.)\-]\s*(yes|no)\b`, "i").exec(source);
    return m ? { answer: m[1]!.toLowerCase() as "yes" | "no", at: m.index + m[0].length - m[1]!.length } : null;
  };
  return labels.map((label) => {
    const inTokens = joined !== undefined ? find(joined, label) : null;
    if (inTokens) {
      const idx = ends.findIndex((e) => inTokens.at < e);
      return { answer: inTokens.answer, token: idx >= 0 ? idx : null };
    }
    const inText = find(text, label);
    return { answer: inText?.answer ?? null, token: null };
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
