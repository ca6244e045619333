import seedrandom from "seedrandom";

/**
 * A seeded random stream. Every random draw in the harness comes from a stream derived from
 * (seed, component, sample id), so no result depends on execution order or concurrency.
 */
export interface RandomStream {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(mean?: number, sd?: number): number;
  /** True with probability p. */
  bernoulli(p: number): boolean;
  choice<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** A child stream, independent of how many draws this one has made. */
  fork(label: string): RandomStream;
}

class AleaStream implements RandomStream {
  private readonly prng: seedrandom.PRNG;
  private spare: number | undefined;

  constructor(private readonly key: string) {
    // Alea: fast, well mixed, and its output depends only on the key string.
    this.prng = seedrandom.alea(key);
  }

  next(): number {
    return this.prng.double();
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.prng.double();
  }

  int(n: number): number {
    if (!(n >= 1)) throw new RangeError(`RandomStream.int: n must be >= 1, got ${n}`);
    return Math.floor(this.prng.double() * n);
  }

  normal(mean = 0, sd = 1): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return mean + sd * s;
    }
    let u = 0;
    while (u === 0) u = this.prng.double();
    const v = this.prng.double();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  bernoulli(p: number): boolean {
    return this.prng.double() < p;
  }

  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("RandomStream.choice: empty list");
    return items[this.int(items.length)] as T;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i] as T;
      out[i] = out[j] as T;
      out[j] = t;
    }
    return out;
  }

  fork(label: string): RandomStream {
    return new AleaStream(`${this.key}/${label}`);
  }
}

/** The stream for one component working on one sample. */
export function randomStream(seed: number | string, component: string, sampleId = ""): RandomStream {
  return new AleaStream(`${seed}|${component}|${sampleId}`);
}
