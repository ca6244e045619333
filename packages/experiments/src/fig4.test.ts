import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeImage } from "@resagent/core";
import { FIG4_DEFAULTS, fig4Plot } from "./index.js";

describe("fig4", () => {
  it("draws 3 aspect ratios x 8 configurations and writes SVG and PNG", async () => {
    const plot = fig4Plot(FIG4_DEFAULTS);
    const svg = plot.svg();
    expect(svg.match(/<polyline/g)?.length).toBe(24);
    expect(svg).toContain("CCW, end left");
    // 4 + 4 highlighted candidates per panel.
    expect(svg.match(/fill="#1f6fd1"/g)!.length).toBe(24 * 4 + 1);
    const dir = await mkdtemp(join(tmpdir(), "resagent-fig4-"));
    const files = await plot.save(join(dir, "fig4"));
    const png = await decodeImage(await readFile(files.png));
    expect(png.width).toBeGreaterThan(1000);
    expect(fig4Plot(FIG4_DEFAULTS).svg()).toBe(svg);
  });
});
