import { InputError, type RandomStream } from "@resagent/core";

/**
 * What one sample of a referring-expression dataset is. "sentence": every sentence of every ref
 * (LISA's evaluation, and this harness's default). "ref": one sample per ref, its sentence chosen
 * by a SentenceMode (the authors' final eval script: one mask per ref).
 */
export type SampleUnit = "sentence" | "ref";
export const SAMPLE_UNITS: readonly SampleUnit[] = ["sentence", "ref"];

/**
 * Which sentence a ref is scored with under `unit: ref` (the final script's `--sentence_mode`,
 * `choose_sentence_entry` / `resolve_sentence`): among the non-empty sentences, the first, the
 * longest or the shortest (by stripped length; the first of equals), a random one, or all of
 * them joined with " | ". The script's `join` never joins: `choose_sentence_entry` falls through
 * to the first sentence, so its `--sentence_mode join` scores the first; here `join` joins.
 */
export type SentenceMode = "first" | "longest" | "shortest" | "random" | "join";
export const SENTENCE_MODES: readonly SentenceMode[] = ["first", "longest", "shortest", "random", "join"];

/** The sample-unit options of a dataset, checked (the field names the dataset option). */
export function sampleUnitOptions(options: { readonly [key: string]: unknown }): { unit: SampleUnit; sentence: SentenceMode } {
  const unit = (options.unit ?? "sentence") as SampleUnit;
  if (!SAMPLE_UNITS.includes(unit)) throw new InputError(`expected ${SAMPLE_UNITS.join(" or ")}, got ${JSON.stringify(options.unit)}`, { field: "dataset.unit" });
  const sentence = (options.sentence ?? "first") as SentenceMode;
  if (!SENTENCE_MODES.includes(sentence)) throw new InputError(`expected one of ${SENTENCE_MODES.join(", ")}, got ${JSON.stringify(options.sentence)}`, { field: "dataset.sentence" });
  if (unit === "sentence" && options.sentence !== undefined) throw new InputError(`a sentence mode needs unit: ref (with unit: sentence every sentence is a sample), got sentence: ${JSON.stringify(options.sentence)}`, { field: "dataset.sentence" });
  return { unit, sentence };
}

/**
 * The sentence a ref is scored with: its index among `sentences` (null for `join` or when no
 * sentence has text) and the expression. Expressions are stripped, as `resolve_sentence` strips.
 */
export function chooseSentence(sentences: readonly string[], mode: SentenceMode, rng?: RandomStream): { index: number | null; expression: string } {
  const usable = sentences.flatMap((s, index) => (s ? [{ index, text: s.trim() }] : []));
  if (!usable.length) return { index: null, expression: "" };
  if (mode === "join") return { index: null, expression: usable.map((u) => u.text).join(" | ") };
  let pick = usable[0]!;
  if (mode === "longest") for (const u of usable) pick = u.text.length > pick.text.length ? u : pick;
  if (mode === "shortest") for (const u of usable) pick = u.text.length < pick.text.length ? u : pick;
  if (mode === "random") {
    if (!rng) throw new Error("chooseSentence: random needs a random stream");
    pick = rng.choice(usable);
  }
  return { index: pick.index, expression: pick.text };
}

/**
 * The `source` a dataset's samples carry (records' `dataset`), from its registry name, split and
 * unit options: "refcoco/val" for sentences, "refcoco/val (refs, first)" for one sample per ref,
 * so the two never share a results column.
 */
export function datasetSource(ref: { name: string; split: string; readonly [key: string]: unknown }): string {
  const base = `${ref.name}/${ref.split}`;
  return ref.unit === "ref" ? `${base} (refs, ${String(ref.sentence ?? "first")})` : base;
}

/** "sentences" or "refs (first sentence)", etc.: what a table's n counts. */
export function describeUnit(ref: { readonly [key: string]: unknown }): string {
  if (ref.unit !== "ref") return "sentences";
  const mode = String(ref.sentence ?? "first");
  return mode === "join" ? "refs (all sentences joined)" : mode === "random" ? "refs (a random sentence each)" : `refs (${mode} sentence)`;
}
