import type { Box, Point } from "@resagent/core";
import { normalise } from "./geometry.js";

/**
 * The calibrated membership model of the paper's Eq. 4: p(x) = σ(α·d̂_e − β·d̂_c + γ), with
 * d̂_c the distance to the box centre and d̂_e the distance to the nearest edge, both normalised
 * to [0, 1] within the box. The text extraction lost α, β, γ; the defaults make the centre
 * near-certainly object (p ≈ 0.98), the edges near-certainly background (p ≈ 0.02–0.06), and put
 * the p ≈ 0.5 belt (maximum entropy) in between, which is the shape the paper describes.
 */
export interface MembershipParams {
  alpha: number;
  beta: number;
  gamma: number;
}

export const DEFAULT_MEMBERSHIP: MembershipParams = { alpha: 4, beta: 4, gamma: 0 };

export function membershipProbability(point: Point, box: Box, m: MembershipParams = DEFAULT_MEMBERSHIP): number {
  const q = normalise(point, box);
  const dc = Math.min(1, Math.hypot(q.x, q.y) / Math.SQRT2);
  const de = Math.max(0, Math.min(1 - Math.abs(q.x), 1 - Math.abs(q.y)));
  return 1 / (1 + Math.exp(-(m.alpha * de - m.beta * dc + m.gamma)));
}

/** Bernoulli (Shannon) entropy in bits, Eq. 5: maximal (1) at p = 0.5. */
export function bernoulliEntropy(p: number): number {
  if (p <= 0 || p >= 1) return 0;
  return -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

/** H(p(x)) for a point in a box: the score the paper ranks candidates by. */
export function entropyScore(point: Point, box: Box, m: MembershipParams = DEFAULT_MEMBERSHIP): number {
  return bernoulliEntropy(membershipProbability(point, box, m));
}
