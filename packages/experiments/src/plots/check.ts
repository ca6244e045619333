import { decodeImage, svgToPng } from "@resagent/core";
import { ASCENT, DESCENT, textWidth } from "./text.js";

type Corner = readonly [number, number];

export interface TextBox {
  text: string;
  cls: string;
  /** Corners of the (possibly rotated) box, clockwise. */
  corners: Corner[];
}

function attrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;|&apos;/g, "'").replace(/&amp;/g, "&");
}

/** Every <text> element's box, estimated from DejaVu Sans advance widths, rotated as its transform says. */
export function textBoxes(svg: string): TextBox[] {
  const out: TextBox[] = [];
  for (const m of svg.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)) {
    const a = attrs(m[1]!);
    const text = unescape(m[2]!);
    const size = Number(a["font-size"] ?? 11);
    const x = Number(a.x ?? 0);
    const y = Number(a.y ?? 0);
    const w = textWidth(text, size, a["font-weight"] === "bold");
    const off = a["text-anchor"] === "middle" ? -w / 2 : a["text-anchor"] === "end" ? -w : 0;
    let corners: Corner[] = [
      [x + off, y - ASCENT * size],
      [x + off + w, y - ASCENT * size],
      [x + off + w, y + DESCENT * size],
      [x + off, y + DESCENT * size],
    ];
    const tr = a.transform?.match(/^\s*translate\(\s*(-?[\d.]+)[\s,]+(-?[\d.]+)\s*\)/);
    const rot = a.transform?.match(/rotate\(\s*(-?[\d.]+)(?:[\s,]+(-?[\d.]+)[\s,]+(-?[\d.]+))?\s*\)/);
    if (a.transform && !rot && !tr) throw new Error(`checkPlotSvg: unsupported transform "${a.transform}" on text "${text}"`);
    if (rot) {
      const t = (Number(rot[1]) * Math.PI) / 180;
      const cx = rot[2] === undefined ? 0 : Number(rot[2]);
      const cy = rot[3] === undefined ? 0 : Number(rot[3]);
      corners = corners.map(([px, py]) => [cx + (px - cx) * Math.cos(t) - (py - cy) * Math.sin(t), cy + (px - cx) * Math.sin(t) + (py - cy) * Math.cos(t)] as const);
    }
    // translate(a b) rotate(r): rotate in local coordinates, then translate.
    if (tr) corners = corners.map(([px, py]) => [px + Number(tr[1]), py + Number(tr[2])] as const);
    out.push({ text, cls: a.class ?? "", corners });
  }
  return out;
}

/** Separating-axis test for two convex quadrilaterals, each shrunk by `slack` px first. */
function overlaps(a: Corner[], b: Corner[], slack = 0.5): boolean {
  const shrink = (q: Corner[]): Corner[] => {
    const cx = q.reduce((s, p) => s + p[0], 0) / q.length;
    const cy = q.reduce((s, p) => s + p[1], 0) / q.length;
    return q.map(([x, y]) => {
      const d = Math.hypot(x - cx, y - cy) || 1;
      return [x - ((x - cx) / d) * slack, y - ((y - cy) / d) * slack] as const;
    });
  };
  const A = shrink(a);
  const B = shrink(b);
  for (const q of [A, B]) {
    for (let i = 0; i < q.length; i++) {
      const p0 = q[i]!;
      const p1 = q[(i + 1) % q.length]!;
      const nx = p1[1] - p0[1];
      const ny = p0[0] - p1[0];
      const proj = (r: Corner[]) => r.map(([x, y]) => x * nx + y * ny);
      const pa = proj(A);
      const pb = proj(B);
      if (Math.max(...pa) <= Math.min(...pb) || Math.max(...pb) <= Math.min(...pa)) return false;
    }
  }
  return true;
}

const PAD = 160;

/**
 * Renders the SVG on a canvas enlarged by PAD on every side (the plot's own white background
 * covers only its canvas) and returns the bounding box of ink drawn outside the canvas, or null.
 * This measures what librsvg actually draws, glyphs included.
 */
export async function inkOutsideCanvas(svg: string): Promise<{ x0: number; y0: number; x1: number; y1: number; pixels: number } | null> {
  const open = svg.match(/<svg\b[^>]*>/);
  if (!open) throw new Error("checkPlotSvg: no <svg> element");
  const a = attrs(open[0]);
  const W = Number(a.width);
  const H = Number(a.height);
  const padded = open[0]
    .replace(/\swidth="[^"]*"/, ` width="${W + 2 * PAD}"`)
    .replace(/\sheight="[^"]*"/, ` height="${H + 2 * PAD}"`)
    .replace(/\sviewBox="[^"]*"/, ` viewBox="${-PAD} ${-PAD} ${W + 2 * PAD} ${H + 2 * PAD}"`);
  const img = await decodeImage(await svgToPng(svg.replace(open[0], padded), 72));
  let box: { x0: number; y0: number; x1: number; y1: number; pixels: number } | null = null;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const inside = x >= PAD && x < PAD + W && y >= PAD && y < PAD + H;
      if (inside) continue;
      const k = 3 * (y * img.width + x);
      if (Math.min(img.data[k]!, img.data[k + 1]!, img.data[k + 2]!) > 245) continue;
      box ??= { x0: x - PAD, y0: y - PAD, x1: x - PAD, y1: y - PAD, pixels: 0 };
      box.x0 = Math.min(box.x0, x - PAD);
      box.y0 = Math.min(box.y0, y - PAD);
      box.x1 = Math.max(box.x1, x - PAD);
      box.y1 = Math.max(box.y1, y - PAD);
      box.pixels++;
    }
  }
  return box;
}

/**
 * What is wrong with a plot, as sentences (empty when nothing is):
 * - a text box (estimated from glyph widths) leaves the canvas or overlaps another text;
 * - anything renders outside the canvas (measured by rendering);
 * - a chart (`g.plot-area`) lacks an x or y axis title;
 * - its y domain leaves the metric's range (e.g. mIoU beyond 100);
 * - a bar chart's axis does not start at zero, or a bar does not stand on the axis, unless the
 *   chart says `data-broken="true"`.
 */
export async function checkPlotSvg(svg: string, options: { render?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const root = attrs(svg.match(/<svg\b[^>]*>/)?.[0] ?? "");
  const W = Number(root.width);
  const H = Number(root.height);
  const boxes = textBoxes(svg);
  for (const b of boxes) {
    const xs = b.corners.map((c) => c[0]);
    const ys = b.corners.map((c) => c[1]);
    if (Math.min(...xs) < -0.5 || Math.max(...xs) > W + 0.5 || Math.min(...ys) < -0.5 || Math.max(...ys) > H + 0.5) {
      problems.push(`text "${b.text}" runs outside the ${W}x${H} canvas (x ${Math.min(...xs).toFixed(0)}..${Math.max(...xs).toFixed(0)}, y ${Math.min(...ys).toFixed(0)}..${Math.max(...ys).toFixed(0)})`);
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      if (overlaps(boxes[i]!.corners, boxes[j]!.corners)) problems.push(`text "${boxes[i]!.text}" overlaps "${boxes[j]!.text}"`);
    }
  }
  if (options.render !== false) {
    const ink = await inkOutsideCanvas(svg);
    if (ink) problems.push(`${ink.pixels} pixels drawn outside the canvas (x ${ink.x0}..${ink.x1}, y ${ink.y0}..${ink.y1})`);
  }
  const area = svg.match(/<g\b[^>]*class="plot-area"[^>]*>/)?.[0];
  if (area) {
    const g = attrs(area);
    for (const axis of ["x", "y"]) {
      const has = [...svg.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)].some((m) => {
        const a = attrs(m[1]!);
        return a.class?.split(/\s+/).includes("axis-title") && a["data-axis"] === axis && m[2]!.trim().length > 0;
      });
      if (!has) problems.push(`no ${axis} axis title`);
    }
    if (g["data-y-domain"]) {
      const [lo, hi] = g["data-y-domain"].split(",").map(Number) as [number, number];
      const [rlo, rhiS] = (g["data-y-range"] ?? "-inf,inf").split(",");
      const rhi = rhiS === "inf" ? Number.POSITIVE_INFINITY : Number(rhiS);
      if (lo < Number(rlo) - 1e-9 || hi > rhi + 1e-9) problems.push(`y axis ${lo}..${hi} leaves the metric's range ${rlo}..${rhiS}`);
      if (g["data-kind"] === "bars" && g["data-broken"] !== "true") {
        if (lo !== 0) problems.push(`bar chart's y axis starts at ${lo}, not 0 (and is not marked broken)`);
        const base = Number(g["data-baseline"]);
        for (const m of svg.matchAll(/<rect\b([^>]*class="bar"[^>]*)>/g)) {
          const r = attrs(m[1]!);
          const bottom = Number(r.y) + Number(r.height);
          if (Math.abs(bottom - base) > 0.5) problems.push(`bar "${r["data-series"]}" (${r["data-value"]}) ends at y ${bottom.toFixed(1)}, not on the axis at ${base}`);
        }
      }
    }
  }
  return problems;
}
