import { boxIoU, randomStream, type Box, type RandomStream } from "@resagent/core";
import { z } from "zod";
import { zEnum, zFraction, zNonNegative } from "@resagent/core";
import { BOX_CONVENTIONS } from "./grounding.js";

/**
 * How a simulated MLLM answers a grounding query. Real grounders' box IoU is bimodal: mostly a
 * tight box (small per-side noise), sometimes a loose or partial box (a neighbour merged in, a
 * part boxed alone), sometimes another object altogether (a same-category instance first) or no
 * parseable answer. The rates of the error modes grow with how hard the phrase is
 * (`phraseDifficulty`) and how many same-category instances the scene holds. Configs change a
 * preset's model field by field (`mllm.overrides.grounding`).
 *
 * Pixel noise models coordinate quantisation (small objects suffer more); the noise spread makes
 * some answers sharper than others. Hazards are per unit of phrase difficulty (wrong objects also
 * per √(same-category instances); loose boxes doubled when a same-category instance touches the
 * target); people, what grounding data covers best, scale every hazard by `personFactor`. The
 * shared hardness makes a hard sample hard for every model, so two models' errors are correlated
 * without being copies. Without `answerConvention` the model writes what the harness reads;
 * without the correlations, SHARED_ERRORS applies.
 */
export const GroundingModelSchema = z.strictObject({
  tightNoise: zNonNegative().describe("tight boxes: per-side error sd as a fraction of the box side"),
  pixelNoise: zNonNegative().describe("plus this many pixels of per-side error"),
  noiseSpread: zNonNegative().describe("sd of a per-answer log factor on the noise"),
  wrongRate: zNonNegative().describe("hazard of answering another object"),
  looseRate: zNonNegative().describe("hazard of a loose or partial box"),
  failureRate: zNonNegative().describe("hazard of an unparseable answer"),
  personFactor: zNonNegative().describe("multiplies every hazard for phrases about people"),
  hardness: zNonNegative().describe("sd of the per-sample log-hazard shared by all simulated models"),
  answerConvention: zEnum(BOX_CONVENTIONS).describe("the coordinates the model writes, whatever the harness reads").optional(),
  modeCorrelation: zFraction().describe("correlation of error-mode draws with other models'").optional(),
  noiseCorrelation: zFraction().describe("correlation of box-noise draws with other models'").optional(),
});
export type GroundingModel = z.output<typeof GroundingModelSchema>;

/**
 * How much of a simulated grounder's randomness is shared with every other grounder on the same
 * sample, as the correlation of each draw (a Gaussian copula: each model's own rates and noise
 * are unchanged in distribution, only how they line up across models). `modes`: whether it
 * fails, answers another object or boxes loosely, and which object or shape; `noise`: its
 * precision and where the box's sides land (annotation-like ambiguity every model shares).
 *
 * Real grounders' errors line up far more than a shared hardness alone makes them: in the
 * authors' router evaluation (router_eval_medoid, RefCOCO val / testA / testB) the medoid of the
 * experts gains only +0.9 / +0.9 / +2.1 box IoU over the best expert and the oracle pick +6.0 /
 * +5.8 / +9.2 (with 5 / 7 / 7 good experts). Four calibrated simulated experts on synthref
 * (300 samples per split, seed 0) with independent draws: medoid +7.8 / +8.0 / +9.3, oracle
 * +12.4 / +10.6 / +15.5; at 0.8 / 0.8: +3.0 / +1.5 / +3.1 and +10.6 / +7.4 / +13.0; at 0.9 / 0.9
 * (these): +1.7 / +0.9 / +0.3 and +8.1 / +6.5 / +9.0; at 0.95 / 0.95 the medoid no longer gains
 * (+0.5 / +0.7 / -0.2). Chosen by those gaps, not fitted finely (n = 300 moves them by ~1).
 */
export const SHARED_ERRORS = { modes: 0.9, noise: 0.9 } as const;

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * Draws for one purpose (the failure decision, the side noise, ...) that mix a stream shared by
 * every model with the model's own: each normal is rho * shared + sqrt(1 - rho^2) * own, so still
 * standard normal; uniforms are its CDF. Each purpose forks both streams by name, so the k-th draw
 * of a purpose lines up across models whatever branches they took before.
 */
class CoupledDraws {
  private readonly s: RandomStream;
  private readonly o: RandomStream;
  private readonly own: number;

  constructor(
    shared: RandomStream,
    own: RandomStream,
    purpose: string,
    private readonly rho: number,
  ) {
    this.s = shared.fork(purpose);
    this.o = own.fork(purpose);
    this.own = Math.sqrt(Math.max(0, 1 - rho * rho));
  }

  normal(): number {
    return this.rho * this.s.normal() + this.own * this.o.normal();
  }

  next(): number {
    return Math.min(1 - 1e-12, normalCdf(this.normal()));
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  choice<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

/** What a phrase leans on to single out its object. Plain English word lists: they read REFER phrases as well as synthref's. */
export interface PhraseCues {
  /** A direct location word ("left man", "top right"), not a relation to another object. */
  location: boolean;
  /** A relation to another object ("to the left of the box", "behind", "next to"). */
  relation: boolean;
  colour: boolean;
  size: boolean;
  pattern: boolean;
  /** The phrase is about a person. */
  person: boolean;
  words: number;
}

const RELATION = /\b(to the (left|right) of|in front of|on top of|next to|partly hidden behind|behind|above|below|beside|near|under|between)\b/g;
const LOCATION = /\b(left|right|top|bottom|middle|center|centre|upper|lower|front|back|far|closest|nearest|corner|first|second|third|last)\b/;
const COLOUR = /\b(red|green|blue|yellow|orange|purple|pink|brown|white|black|gray|grey|beige|tan|dark|light)\b/;
const SIZE = /\b(small|big|large|little|tall|short|tiny|huge|smaller|bigger|larger|largest|smallest)\b/;
const PATTERN = /\b(striped|stripes|stripe|dotted|dots|spotted|plaid|checkered|plain)\b/;
const PERSON = /\b(person|man|men|woman|women|guy|guys|girl|boy|lady|kid|child|player|people|he|she|someone|whoever)\b/;

export function phraseCues(phrase: string): PhraseCues {
  const text = phrase.toLowerCase();
  const relation = RELATION.test(text);
  RELATION.lastIndex = 0;
  // "to the left of the box" says where the anchor is, not where the target is in the image.
  const direct = text.replace(RELATION, " ");
  return {
    location: LOCATION.test(direct),
    relation,
    colour: COLOUR.test(text),
    size: SIZE.test(text),
    pattern: PATTERN.test(text),
    person: PERSON.test(text),
    words: text.split(/\s+/).filter(Boolean).length,
  };
}

/**
 * How hard a phrase is to ground, relative to a location word (1). Set a priori, not fitted: a
 * phrase is as easy as its strongest cue; spatial words are what MLLM grounders resolve best,
 * colour next, relative size and texture worst (attribute binding); a relation to another object
 * means finding that object too (× 1.25), and long sentences cost a little more to parse.
 */
export const CUE_DIFFICULTY = { location: 1, colour: 1.5, pattern: 2.5, size: 3, none: 2 } as const;

export function phraseDifficulty(c: PhraseCues): number {
  const present = (["location", "colour", "pattern", "size"] as const).filter((k) => c[k]).map((k) => CUE_DIFFICULTY[k]);
  let d: number = present.length ? Math.min(...present) : CUE_DIFFICULTY.none;
  if (c.relation) d *= 1.25;
  if (c.words > 8) d *= 1 + 0.03 * (c.words - 8);
  return d;
}

export type GroundingMode = "tight" | "loose" | "partial" | "merged" | "wrong" | "failure";

export interface GroundingQuery {
  /** Whose errors these are: each model draws from its own stream. */
  model: string;
  seed: number;
  sampleId: string;
  phrase: string;
  gold: Box;
  /** Boxes of the other instances of the target's category. */
  peers: readonly Box[];
  width: number;
  height: number;
}

export type GroundingOutcome = { mode: "failure" } | { mode: Exclude<GroundingMode, "failure">; box: Box };

/** Touching or overlapping (within 3% of the larger side). */
function touches(a: Box, b: Box): boolean {
  const m = 0.03 * Math.max(a.x2 - a.x1, a.y2 - a.y1);
  return a.x1 - m < b.x2 && b.x1 < a.x2 + m && a.y1 - m < b.y2 && b.y1 < a.y2 + m;
}

const hazardToP = (h: number) => 1 - Math.exp(-Math.max(0, h));

/**
 * One simulated grounding answer (in pixels). The draws mix a stream keyed by the model's name,
 * seed and sample with a stream keyed by seed and sample only (SHARED_ERRORS: how much lines up
 * across models), on top of a shared per-sample hardness and the instance a confused model
 * reaches for first. So two models' wrong-object choices and noise are correlated without being
 * copies: what a box ensemble over them needs, at the strength real grounders show.
 */
export function simulateGrounding(m: GroundingModel, q: GroundingQuery): GroundingOutcome {
  const shared = randomStream(q.seed, "simulated-ground-shared", q.sampleId);
  const z = shared.normal();
  const likelyPeer = q.peers.length ? shared.int(q.peers.length) : -1;
  const own = randomStream(q.seed, `simulated-ground/${q.model}`, q.sampleId);
  const modeRho = m.modeCorrelation ?? SHARED_ERRORS.modes;
  const noiseRho = m.noiseCorrelation ?? SHARED_ERRORS.noise;
  const draws = (purpose: string, rho: number) => new CoupledDraws(shared, own, purpose, rho);
  const cues = phraseCues(q.phrase);
  const d = phraseDifficulty(cues);
  const k = Math.exp(m.hardness * z) * (cues.person ? m.personFactor : 1);
  if (draws("failure", modeRho).bernoulli(hazardToP(m.failureRate * d * k))) return { mode: "failure" };
  const n = q.peers.length;
  const wrong = draws("wrong", modeRho).bernoulli(hazardToP(m.wrongRate * d * k * (n ? Math.sqrt(n) : 0.3)));
  const adjacent = q.peers.filter((p) => touches(p, q.gold));
  const loose = draws("loose", modeRho).bernoulli(hazardToP(m.looseRate * k * (adjacent.length ? 2 : 1)));
  // Per-sample precision: some answers are sharper than others.
  const sd = m.tightNoise * Math.exp(m.noiseSpread * draws("precision", noiseRho).normal());
  // Which object, which loose shape: lined up across models as the error modes are.
  const r = draws("shape", modeRho);
  const gw = q.gold.x2 - q.gold.x1;
  const gh = q.gold.y2 - q.gold.y1;
  let mode: Exclude<GroundingMode, "failure">;
  let base: Box;
  if (wrong) {
    mode = "wrong";
    base = n ? q.peers[r.bernoulli(0.6) ? likelyPeer : r.int(n)]! : elsewhere(q, r);
  } else if (loose) {
    const pick = r.next();
    if (adjacent.length && pick < 0.5) {
      mode = "merged";
      const p = r.choice(adjacent);
      base = { x1: Math.min(q.gold.x1, p.x1), y1: Math.min(q.gold.y1, p.y1), x2: Math.max(q.gold.x2, p.x2), y2: Math.max(q.gold.y2, p.y2) };
    } else if (pick < (adjacent.length ? 0.75 : 0.5)) {
      mode = "loose";
      const grow = () => (r.bernoulli(0.6) ? r.uniform(0.05, 0.3) : 0);
      base = { x1: q.gold.x1 - grow() * gw, y1: q.gold.y1 - grow() * gh, x2: q.gold.x2 + grow() * gw, y2: q.gold.y2 + grow() * gh };
    } else {
      // A part boxed alone (the upper body, the cup without its handle): one or two sides cut.
      mode = "partial";
      base = { ...q.gold };
      const sides = r.shuffle([0, 1, 2, 3]).slice(0, 1 + r.int(2));
      for (const s of sides) {
        const cut = r.uniform(0.1, 0.35);
        if (s === 0) base.x1 += cut * gw;
        else if (s === 1) base.x2 -= cut * gw;
        else if (s === 2) base.y1 += cut * gh;
        else base.y2 -= cut * gh;
      }
    }
  } else {
    mode = "tight";
    base = q.gold;
  }
  const bw = base.x2 - base.x1;
  const bh = base.y2 - base.y1;
  // Where the sides land: partly shared; the coordinate quantisation is each model's own.
  const side = draws("sides", noiseRho);
  const e = () => own.normal() * m.pixelNoise;
  let b = { x1: base.x1 + side.normal() * sd * bw + e(), y1: base.y1 + side.normal() * sd * bh + e(), x2: base.x2 + side.normal() * sd * bw + e(), y2: base.y2 + side.normal() * sd * bh + e() };
  b = { x1: Math.max(0, Math.min(b.x1, b.x2 - 2)), y1: Math.max(0, Math.min(b.y1, b.y2 - 2)), x2: Math.min(q.width, Math.max(b.x2, b.x1 + 2)), y2: Math.min(q.height, Math.max(b.y2, b.y1 + 2)) };
  return { mode, box: b };
}

/** With no same-category instance to confuse it with, a wrong answer boxes something else of about the target's size. */
function elsewhere(q: GroundingQuery, r: Pick<RandomStream, "uniform">): Box {
  const w = Math.min(q.width, (q.gold.x2 - q.gold.x1) * r.uniform(0.6, 1.5));
  const h = Math.min(q.height, (q.gold.y2 - q.gold.y1) * r.uniform(0.6, 1.5));
  let best: Box = { x1: 0, y1: 0, x2: w, y2: h };
  for (let t = 0; t < 10; t++) {
    const x = r.uniform(0, q.width - w);
    const y = r.uniform(0, q.height - h);
    best = { x1: x, y1: y, x2: x + w, y2: y + h };
    if (boxIoU(best, q.gold) < 0.1) break;
  }
  return best;
}
