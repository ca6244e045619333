import type { TopLogprob } from "@resagent/mllm";

/** A token as the yes/no matcher sees it: BPE space markers (Ġ, ▁) and spaces stripped, lower case. */
export function normaliseToken(token: string): string {
  return token.replace(/^[\sĠ▁]+/u, "").replace(/[\s.,!]+$/u, "").toLowerCase();
}

export type Aggregation = "pa" | "decoded";

/**
 * P(yes) from a first-token answer (paper Eq. 6). "pa": softmax over the returned top-k logprobs,
 * then the mass of every "yes" surface form over the mass of "yes" and "no" forms together.
 * "decoded" (PA off, Table 2 row 3): only the decoded token counts, P(yes) is 1 or 0.
 * Null when neither answer is present (an abstention, recorded as such).
 */
export function aggregateYesProbability(top: readonly TopLogprob[] | undefined, decodedText: string, mode: Aggregation): number | null {
  if (mode === "decoded" || !top || top.length === 0) {
    const t = normaliseToken(decodedText.split(/\s+/u).find((w) => w.trim()) ?? "");
    return t === "yes" ? 1 : t === "no" ? 0 : null;
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
