/** The progress bar, on a fake clock: what a log (no terminal) and a terminal show, line by line. */
import { describe, expect, it } from "vitest";
import { Progress, formatDuration, progressIntervalSeconds } from "./progress.js";

function harness(tty: boolean, opts: { start?: number; intervalSeconds?: number } = {}) {
  let t = 0;
  const written: string[] = [];
  const clock = {
    advance: (seconds: number) => void (t += 1000 * seconds),
    lines: () => written.join("").split("\n").filter(Boolean),
    written,
  };
  const make = (label: string, total: number) => new Progress(label, total, { writer: { write: (s: string) => void written.push(s) }, tty, now: () => t, intervalSeconds: opts.intervalSeconds ?? 30, ...(opts.start !== undefined ? { start: opts.start } : {}) });
  return { clock, make };
}

describe("Progress without a terminal (logs, CI, SLURM)", () => {
  it("prints a line at the start, every 10% and at least every N seconds, with elapsed time, and no rate until a few items are done", () => {
    const { clock, make } = harness(false, { intervalSeconds: 30 });
    const bar = make("table4", 100);
    // 100 items at 20 s each: 10% takes 200 s, so the 30 s lines come first.
    for (let i = 0; i < 100; i++) {
      clock.advance(20);
      bar.tick();
    }
    bar.finish();
    const lines = clock.lines();
    expect(lines[0]).toBe("table4 [........................] 0/100 0% elapsed 0:00");
    // The first tick knows no rate: no nonsense like "13491.6/s ETA 0s".
    expect(lines[1]).toBe("table4 [........................] 2/100 2% elapsed 0:40");
    expect(lines[1]).not.toMatch(/\/s|\/min|ETA/);
    // From the third item on: rate (per minute when under 1/s) and ETA.
    expect(lines[2]).toBe("table4 [#.......................] 4/100 4% elapsed 1:20 3.0/min ETA 32:00");
    // Every line is at most 40 s (two items) after the one before: never more than 30 s without news while items complete.
    const elapsed = lines.map((l) => l.match(/elapsed (\d+):(\d+)/)!).map((m) => 60 * Number(m[1]) + Number(m[2]));
    for (let i = 1; i < elapsed.length; i++) expect(elapsed[i]! - elapsed[i - 1]!).toBeLessThanOrEqual(40);
    expect(lines.at(-1)).toBe("table4 [########################] 100/100 100% elapsed 33:20 3.0/min");
    expect(lines.filter((l) => l.includes(" 100/100 "))).toHaveLength(1);
  });

  it("prints every 10% when items come faster than N seconds", () => {
    const { clock, make } = harness(false, { intervalSeconds: 30 });
    const bar = make("gen-vbr", 50);
    for (let i = 0; i < 50; i++) {
      clock.advance(0.5);
      bar.tick();
    }
    bar.finish();
    const counts = clock.lines().map((l) => Number(l.match(/ (\d+)\/50 /)![1]));
    // The start, each 10% (every 5 items), nothing in between: 25 s in all, so no time-based line.
    expect(counts).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
    expect(clock.lines()[5]).toBe("gen-vbr [############............] 25/50 50% elapsed 0:13 2.0/s ETA 0:13");
  });

  it("a resumed run starts the bar at what was done, and its rate counts only new items", () => {
    const { clock, make } = harness(false, { start: 40, intervalSeconds: 30 });
    const bar = make("table4", 120);
    expect(clock.lines()[0]).toBe("table4 [########................] 40/120 33% (40 resumed) elapsed 0:00");
    for (let i = 41; i <= 44; i++) {
      clock.advance(2);
      bar.update(i);
    }
    bar.finish();
    // 4 new items in 8 s: 0.5/s, 76 left: 2:32. Not 44 items in 8 s.
    expect(clock.lines().at(-1)).toBe("table4 [#########...............] 44/120 37% (40 resumed) elapsed 0:08 30.0/min ETA 2:32");
  });

  it("takes rate and ETA from a moving window: a run that slows down says so", () => {
    const { clock, make } = harness(false, { intervalSeconds: 1 });
    const bar = make("x", 1000);
    for (let i = 0; i < 300; i++) {
      clock.advance(0.1); // 10/s for 30 s
      bar.tick();
    }
    for (let i = 0; i < 70; i++) {
      clock.advance(1); // then 1/s for 70 s
      bar.tick();
    }
    // The last minute holds only the slow phase: 1.0/s, not the whole run's 3.7/s.
    expect(bar.rate()).toBeCloseTo(1, 5);
    expect(bar.line()).toMatch(/ 370\/1000 37% elapsed 1:40 1\.0\/s ETA 10:30$/);
  });

  it("reads N from RESAGENT_PROGRESS_SECONDS and refuses nonsense, naming the variable", () => {
    expect(progressIntervalSeconds({})).toBe(30);
    expect(progressIntervalSeconds({ RESAGENT_PROGRESS_SECONDS: "5" })).toBe(5);
    expect(() => progressIntervalSeconds({ RESAGENT_PROGRESS_SECONDS: "soon" })).toThrow(/RESAGENT_PROGRESS_SECONDS: expected a number of seconds > 0, got "soon"/);
    expect(() => progressIntervalSeconds({ RESAGENT_PROGRESS_SECONDS: "0" })).toThrow(/RESAGENT_PROGRESS_SECONDS/);
  });
});

describe("Progress on a terminal", () => {
  it("redraws one line in place, at most ten times a second, and ends it with a newline", () => {
    const { clock, make } = harness(true);
    const bar = make("synthref", 10);
    for (let i = 0; i < 10; i++) {
      clock.advance(0.05);
      bar.tick();
    }
    bar.finish();
    const w = clock.written;
    expect(w.every((s) => s.startsWith("\r"))).toBe(true);
    // start, then every 2nd tick (100 ms apart), the last tick, and finish
    expect(w.length).toBeLessThan(10);
    expect(w.at(-1)).toBe("\rsynthref [########################] 10/10 100% elapsed 0:01 20.0/s\x1b[K\n");
    bar.finish();
    expect(w.at(-1)).toMatch(/\n$/);
    expect(w.filter((s) => s.endsWith("\n"))).toHaveLength(1);
  });
});

it("formats durations as m:ss and h:mm:ss", () => {
  expect(formatDuration(0)).toBe("0:00");
  expect(formatDuration(75)).toBe("1:15");
  expect(formatDuration(3725)).toBe("1:02:05");
});
