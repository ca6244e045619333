import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeImage, randomStream } from "@resagent/core";
import { SpiralSampler, parseSpiralParams } from "@resagent/sampler";
import { FIG4_DEFAULTS, directionArrows, fig4Plot } from "./index.js";

describe("fig4", () => {
  it("draws 3 aspect ratios x 8 configurations and writes SVG and PNG", async () => {
    const plot = fig4Plot(FIG4_DEFAULTS);
    const svg = plot.svg();
    expect(svg.match(/<polyline/g)?.length).toBe(24);
    expect(svg).toContain("CCW ↺, end left");
    expect(svg).toContain("are our choice");
    // 4 + 4 highlighted candidates per panel.
    expect(svg.match(/fill="#1f6fd1"/g)!.length).toBe(24 * 4 + 1);
    // Three direction arrows per panel.
    expect(svg.match(/<polygon/g)!.length).toBe(24 * 3);
    const dir = await mkdtemp(join(tmpdir(), "resagent-fig4-"));
    const files = await plot.save(join(dir, "fig4"));
    const png = await decodeImage(await readFile(files.png));
    expect(png.width).toBeGreaterThan(1000);
    expect(fig4Plot(FIG4_DEFAULTS).svg()).toBe(svg);
  });

  it("arrows turn clockwise on screen for CW and counter-clockwise for CCW", () => {
    const box = { x1: 0, y1: 0, x2: 200, y2: 100 };
    for (const direction of ["cw", "ccw"] as const) {
      for (const end of ["top", "bottom", "left", "right"] as const) {
        const path = new SpiralSampler(parseSpiralParams({ direction, end })).draw(box, randomStream(0, "fig4")).path(1);
        for (const a of directionArrows(path)) {
          // Image coordinates (y down): a positive cross product of (radius, heading) turns clockwise on screen.
          const cross = (a.at.x - 100) * Math.sin(a.angle) - (a.at.y - 50) * Math.cos(a.angle);
          expect(Math.sign(cross), `${direction} ${end}`).toBe(direction === "cw" ? 1 : -1);
        }
      }
    }
  });
});
