import { createRequire } from "node:module";
import type { D3Node as D3NodeClass, Selection } from "d3-node";
import { svgToPng, writeFileAtomic } from "@resagent/core";

// d3-node brings jsdom, whose loading costs more CPU than most runs spend drawing: it is loaded
// on the first plot, not by every program that imports this package.
const require = createRequire(import.meta.url);
let d3node: { D3Node: typeof D3NodeClass } | undefined;

/** A blank SVG canvas built with d3-node; plots draw on `root` and call `save`. */
export class Plot {
  private readonly node = new (d3node ??= require("d3-node") as { D3Node: typeof D3NodeClass }).D3Node();
  readonly root: Selection;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.root = this.node.createSVG(width, height, { viewBox: `0 0 ${width} ${height}`, "font-family": "DejaVu Sans, sans-serif" });
    this.root.append("rect").attr("width", width).attr("height", height).attr("fill", "#ffffff");
  }

  /** A text line at baseline (x, y); `rotate` turns it (degrees, clockwise) about that point; `cls` tags it for the plot checks. */
  text(x: number, y: number, s: string, opts: { size?: number; anchor?: "start" | "middle" | "end"; weight?: string; fill?: string; rotate?: number; cls?: string } = {}): Selection {
    const t = this.root
      .append("text")
      .attr("x", x)
      .attr("y", y)
      .attr("font-size", opts.size ?? 11)
      .attr("text-anchor", opts.anchor ?? "start")
      .attr("font-weight", opts.weight ?? "normal")
      .attr("fill", opts.fill ?? "#222");
    if (opts.rotate) t.attr("transform", `rotate(${opts.rotate} ${x} ${y})`);
    if (opts.cls) t.attr("class", opts.cls);
    return t.text(s);
  }

  /** A small grey line saying what made the figure (seed, samples, commit); under the title by default. */
  provenance(s: string, x = 20, y = 40, anchor: "start" | "end" = "start"): Selection {
    return this.text(x, y, s, { size: 9, fill: "#888", anchor });
  }

  svg(): string {
    return this.node.svgString();
  }

  /** Write `<base>.svg` and `<base>.png`; returns both paths. */
  async save(base: string): Promise<{ svg: string; png: string }> {
    const svg = this.svg();
    await writeFileAtomic(`${base}.svg`, svg);
    await writeFileAtomic(`${base}.png`, await svgToPng(svg));
    return { svg: `${base}.svg`, png: `${base}.png` };
  }
}

/** "x,y x,y ..." for an SVG polyline. */
export function polyline(points: readonly { x: number; y: number }[]): string {
  return points.map((p) => `${p.x.toFixed(2)},${p.y.toFixed(2)}`).join(" ");
}
