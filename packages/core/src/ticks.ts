import { scaleLinear } from "d3-scale";

/**
 * Axis ticks for the charts the harness draws (result plots, histograms, training curves): d3's
 * linear scale made nice over [lo, hi] with about `count` ticks (steps of 1, 2 or 5 × 10^k). One
 * definition, so every chart rounds its axis the same way.
 */
export function niceTicks(lo: number, hi: number, count = 5): { lo: number; hi: number; step: number; ticks: number[] } {
  if (!(Number.isFinite(lo) && Number.isFinite(hi)) || hi <= lo) return { lo, hi: lo + 1, step: 1, ticks: [lo, lo + 1] };
  const scale = scaleLinear().domain([lo, hi]).nice(count);
  const ticks = scale.ticks(count);
  const [a, b] = scale.domain() as [number, number];
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : b - a;
  return { lo: a, hi: b, step, ticks };
}
