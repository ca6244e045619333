import type { RandomStream } from "@resagent/core";
import type { Scene, SceneObject } from "./scene.js";
import { SHAPES } from "./shapes.js";

/** Expression styles mirroring the benchmarks (paper §4.1). */
export type Style = "refcoco" | "refcoco+" | "refcocog" | "reasonseg";
export const STYLES: readonly Style[] = ["refcoco", "refcoco+", "refcocog", "reasonseg"];

interface Centroid {
  x: number;
  y: number;
}

function centroid(m: Uint8Array, width: number): Centroid {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let k = 0; k < m.length; k++) {
    if (!m[k]) continue;
    const y = Math.floor(k / width);
    sx += k - y * width;
    sy += y;
    n++;
  }
  return { x: sx / Math.max(1, n), y: sy / Math.max(1, n) };
}

type Attr = "colour" | "size" | "pattern";

function attrWord(o: SceneObject, a: Attr): string | undefined {
  if (a === "colour") return o.colour;
  if (a === "size") return o.size;
  return o.pattern === "plain" ? undefined : o.pattern;
}

/**
 * The smallest set of appearance attributes that tells the target apart from its peers. People
 * rarely call a thing "plain", so sets that need the word come last: only when a plain target's
 * peers differ from it in pattern alone (a striped twin), where nothing else singles it out.
 */
function distinguishingAttrs(t: SceneObject, peers: readonly SceneObject[], r: RandomStream): Attr[] {
  const sets: Attr[][] = [["colour"], ["size"], ["pattern"], ["colour", "size"], ["colour", "pattern"], ["size", "pattern"], ["colour", "size", "pattern"]];
  const ok = sets.filter((set) => peers.every((p) => set.some((a) => (a === "pattern" ? p.pattern !== t.pattern : p[a] !== t[a]))));
  const sayable = ok.filter((set) => set.every((a) => attrWord(t, a) !== undefined));
  const pool = sayable.length ? sayable : ok;
  const minLen = Math.min(...pool.map((s) => s.length));
  return r.choice(pool.filter((s) => s.length === minLen));
}

function nounPhrase(t: SceneObject, attrs: readonly Attr[], noun: string): string {
  const size = attrs.includes("size") ? `${t.size} ` : "";
  const colour = attrs.includes("colour") ? t.colour : "";
  const pattern = attrs.includes("pattern") ? t.pattern : "";
  if (t.category === "person") {
    // People are described by their clothes.
    const clothes = [colour, pattern].filter(Boolean).join(" ");
    return clothes ? `${size}${noun} in ${clothes}` : `${size}${noun}`;
  }
  return `${size}${[pattern, colour].filter(Boolean).join(" ")}${pattern || colour ? " " : ""}${noun}`;
}

/** A location word that singles the target out among its peers (by a clear margin), if any. */
function locationWord(t: Centroid, peers: readonly Centroid[], scale: number): string[] {
  const words: string[] = [];
  const gap = scale * 0.6;
  if (peers.length === 0) return words;
  if (peers.every((p) => t.x + gap < p.x)) words.push("left");
  if (peers.every((p) => t.x - gap > p.x)) words.push("right");
  if (peers.every((p) => t.y + gap < p.y)) words.push("top");
  if (peers.every((p) => t.y - gap > p.y)) words.push("bottom");
  if (peers.length === 2 && words.length === 0) {
    const xs = peers.map((p) => p.x);
    if (t.x > Math.min(...xs) + gap && t.x < Math.max(...xs) - gap) words.push("middle");
  }
  return words;
}

function relation(t: SceneObject, tc: Centroid, a: SceneObject, ac: Centroid, occludedBy: boolean): string {
  if (occludedBy) return "partly hidden behind";
  if (a.depth < t.depth && Math.hypot(tc.x - ac.x, tc.y - ac.y) < (t.scale + a.scale) * 0.9) return "in front of";
  const dx = tc.x - ac.x;
  const dy = tc.y - ac.y;
  if (Math.abs(dx) > Math.abs(dy)) return dx < 0 ? "to the left of" : "to the right of";
  return dy < 0 ? "above" : "below";
}

function article(phrase: string): string {
  return /^[aeiou]/.test(phrase) ? "an" : "a";
}

/**
 * One referring expression for the scene's target in the given style. Every expression is true
 * of the scene and identifies the target uniquely among objects of its category.
 */
export function describeTarget(scene: Scene, visible: readonly Uint8Array[], style: Style, r: RandomStream): { text: string; isSentence: boolean } {
  const t = scene.objects[scene.target]!;
  const shape = SHAPES[t.category];
  const noun = r.bernoulli(0.7) ? shape.nouns[0]! : r.choice(shape.nouns);
  const peers = scene.objects.filter((o, i) => i !== scene.target && o.category === t.category);
  const cents = scene.objects.map((_, i) => centroid(visible[i]!, scene.width));
  const tc = cents[scene.target]!;
  const peerCents = scene.objects.map((o, i) => [o, i] as const).filter(([o, i]) => i !== scene.target && o.category === t.category).map(([, i]) => cents[i]!);
  const attrs = peers.length ? distinguishingAttrs(t, peers, r) : r.bernoulli(0.5) ? ["colour" as Attr] : [];

  switch (style) {
    case "refcoco": {
      // Short, location words welcome (RefCOCO was collected in a game that rewarded brevity).
      const locs = locationWord(tc, peerCents, t.scale);
      if (locs.length && r.bernoulli(0.65)) {
        const loc = r.choice(locs);
        const form = r.int(3);
        if (loc === "middle") return { text: `middle ${noun}`, isSentence: false };
        if (form === 0) return { text: `${loc} ${noun}`, isSentence: false };
        if (form === 1) return { text: `${noun} on the ${loc}`, isSentence: false };
        return { text: `${nounPhrase(t, attrs.filter((a) => a === "colour"), noun)} ${loc}`, isSentence: false };
      }
      return { text: nounPhrase(t, attrs, noun), isSentence: false };
    }
    case "refcoco+": {
      // Appearance only: no location words at all.
      const np = nounPhrase(t, attrs, noun);
      return { text: r.bernoulli(0.5) ? np : `the ${np}`, isSentence: false };
    }
    case "refcocog": {
      // Longer and relational: an appearance phrase plus the target's relation to another object.
      const fuller: Attr[] = attrs.includes("colour") ? attrs : ["colour", ...attrs];
      const np = nounPhrase(t, fuller, noun);
      const others = scene.objects.map((o, i) => [o, i] as const).filter(([o]) => o.category !== t.category);
      if (others.length === 0) return { text: `${article(np)} ${np} standing alone in the picture`, isSentence: false };
      const [anchor, ai] = others.reduce((best, cur) =>
        Math.hypot(cents[cur[1]]!.x - tc.x, cents[cur[1]]!.y - tc.y) < Math.hypot(cents[best[1]]!.x - tc.x, cents[best[1]]!.y - tc.y) ? cur : best,
      );
      const occludedBy = scene.hiddenBy.includes(ai);
      const rel = relation(t, tc, anchor, cents[ai]!, occludedBy);
      const anp = nounPhrase(anchor, ["colour"], SHAPES[anchor.category].nouns[0]!);
      const lead = r.choice(["", "the ", `${article(np)} `]);
      const verb = r.choice(["that is", "which is", ""]);
      return { text: `${lead}${np} ${verb ? `${verb} ` : ""}${rel} the ${anp}`.replace(/\s+/g, " ").trim(), isSentence: false };
    }
    case "reasonseg": {
      // Implicit: what the object is for, not what it is called.
      const purpose = r.choice(shape.purposes);
      const desc = attrs.map((a) => attrWord(t, a) ?? t.pattern).join(" ");
      if (r.bernoulli(0.5)) return { text: peers.length ? `${purpose}; it is the ${desc} one` : purpose, isSentence: false };
      return { text: `In this picture, can you find ${purpose}?${peers.length ? ` It is the ${desc} one.` : ""}`, isSentence: true };
    }
  }
}
