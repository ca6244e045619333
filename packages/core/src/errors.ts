/**
 * The one error type the harness throws for bad input. It names where the problem is
 * (file and/or field), what was found and what was expected, so a user can fix it in one go.
 */
export class InputError extends Error {
  readonly file: string | undefined;
  readonly field: string | undefined;

  constructor(message: string, where: { file?: string; field?: string } = {}) {
    const loc = [where.file, where.field].filter((s): s is string => Boolean(s)).join(": ");
    super(loc ? `${loc}: ${message}` : message);
    this.name = "InputError";
    this.file = where.file;
    this.field = where.field;
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** "did you mean X?" for the closest known name, or the full list when nothing is close. */
export function suggest(name: string, known: readonly string[]): string {
  const ranked = [...known].sort((x, y) => editDistance(name, x) - editDistance(name, y));
  const best = ranked[0];
  const close = best !== undefined && editDistance(name, best) <= Math.max(2, Math.floor(best.length / 3));
  return close ? `did you mean "${best}"? (known: ${known.join(", ")})` : `known: ${known.join(", ")}`;
}
