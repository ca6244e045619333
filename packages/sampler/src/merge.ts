import type { Box, Point } from "@resagent/core";
import { entropyScore, type MembershipParams } from "./entropy.js";
import type { Candidate, MergeOrder } from "./types.js";

/** Merge the two queues into the order the verifier walks them. */
export function mergeQueues(external: Point[], internal: Point[], order: MergeOrder, box: Box, membership?: MembershipParams): Candidate[] {
  const ext = external.map((point, rank): Candidate => ({ point, queue: "external", rank, entropy: entropyScore(point, box, membership) }));
  const int = internal.map((point, rank): Candidate => ({ point, queue: "internal", rank, entropy: entropyScore(point, box, membership) }));
  if (order === "external-first") return [...ext, ...int];
  if (order === "internal-first") return [...int, ...ext];
  const out: Candidate[] = [];
  for (let i = 0; i < Math.max(ext.length, int.length); i++) {
    if (i < ext.length) out.push(ext[i]!);
    if (i < int.length) out.push(int[i]!);
  }
  return out;
}
