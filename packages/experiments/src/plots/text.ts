/**
 * Text measurement for plot layout and for the plot checks. Advance widths (1/1000 em) of DejaVu
 * Sans Book and Bold, the font our SVGs name and librsvg renders them with, read from the fonts'
 * hmtx tables for printable ASCII and the symbols our labels use. Characters outside the table
 * count as the widest common glyph (an em), so estimates err towards "too wide".
 */
const CHARS = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~·–—≤≥±τ‹›−×…°²αβγ→←éü√Δ";
// prettier-ignore
const BOOK = [318,401,460,838,636,950,780,275,390,390,500,838,318,361,318,337,636,636,636,636,636,636,636,636,636,636,337,337,838,838,838,531,1000,684,686,698,770,632,575,775,752,295,295,656,557,863,748,787,603,787,695,635,611,732,684,989,685,611,685,390,337,390,838,500,500,613,635,550,635,615,352,635,634,278,278,579,278,974,634,612,635,635,411,521,392,634,592,818,592,592,525,636,337,636,838,318,500,1000,838,838,838,602,400,400,838,838,1000,500,401,659,638,592,838,838,615,634,637,684];
// prettier-ignore
const BOLD = [348,456,521,838,696,1002,872,306,457,457,523,838,380,415,380,365,696,696,696,696,696,696,696,696,696,696,400,400,838,838,838,580,1000,774,762,734,830,683,683,821,837,372,372,775,637,995,837,850,733,850,770,720,682,812,774,1103,771,724,725,457,365,457,838,500,500,675,716,593,716,678,435,716,712,343,343,665,343,1042,712,687,716,716,493,595,478,712,652,924,645,652,582,712,365,712,838,380,500,1000,838,838,838,638,412,412,838,838,1000,500,438,687,716,681,838,838,678,712,667,774];

const book = new Map<string, number>();
const bold = new Map<string, number>();
[...CHARS].forEach((c, i) => {
  book.set(c, BOOK[i]!);
  bold.set(c, BOLD[i]!);
});

/** Rendered width in px of `s` at `size` px. */
export function textWidth(s: string, size: number, isBold = false): number {
  const table = isBold ? bold : book;
  let w = 0;
  for (const c of s) w += table.get(c) ?? 1000;
  return (w * size) / 1000;
}

/** Above and below the baseline, in em (DejaVu Sans: cap height 0.73, descender 0.24; a little slack). */
export const ASCENT = 0.77;
export const DESCENT = 0.24;

/** Word-wrap to lines no wider than `maxWidth`; a word longer than a line is cut with "…". */
export function wrapText(s: string, maxWidth: number, size: number, isBold = false, maxLines = 4): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (textWidth(next, size, isBold) <= maxWidth || !line) line = next;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  const fitted = lines.map((l) => ellipsize(l, maxWidth, size, isBold));
  if (fitted.length > maxLines) {
    fitted.length = maxLines;
    fitted[maxLines - 1] = ellipsize(`${fitted[maxLines - 1]!} …`, maxWidth, size, isBold);
  }
  return fitted;
}

/** `s`, shortened with "…" until it fits `maxWidth`. */
export function ellipsize(s: string, maxWidth: number, size: number, isBold = false): string {
  if (textWidth(s, size, isBold) <= maxWidth) return s;
  let t = s;
  while (t.length > 1 && textWidth(`${t}…`, size, isBold) > maxWidth) t = t.slice(0, -1);
  return `${t.trimEnd()}…`;
}
