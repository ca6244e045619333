import { InputError } from "@resagent/core";

/** Where a progress bar writes: stderr by default; tests pass their own. */
export interface ProgressWriter {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Items already done before this process started (a resumed run): the bar starts there. */
  start?: number;
  /** Default process.stderr. */
  writer?: ProgressWriter;
  /** Redraw in place (a terminal) or print plain lines (logs, CI, SLURM). Default: writer.isTTY. */
  tty?: boolean;
  /** Milliseconds on a monotonic clock. Default performance.now. */
  now?: () => number;
  /**
   * Without a terminal, a line at most this many seconds apart (and at every 10%), whichever
   * comes first. Default $RESAGENT_PROGRESS_SECONDS, else 30.
   */
  intervalSeconds?: number;
}

/** Rate and ETA need this many items done by this process first: the first tick's rate means nothing. */
export const RATE_MIN_SAMPLES = 3;
/** The rate is measured over the last minute (at least the last RATE_MIN_SAMPLES items), so it follows a run that speeds up or slows down. */
export const RATE_WINDOW_MS = 60_000;
const HISTORY = 256;

/** $RESAGENT_PROGRESS_SECONDS: seconds between progress lines without a terminal (default 30). */
export function progressIntervalSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RESAGENT_PROGRESS_SECONDS;
  if (raw === undefined || raw === "") return 30;
  const v = Number(raw);
  if (!(Number.isFinite(v) && v > 0)) throw new InputError(`expected a number of seconds > 0, got "${raw}"`, { field: "RESAGENT_PROGRESS_SECONDS" });
  return v;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * A progress bar: done/total (a resumed run starts at what was already done), percent, elapsed
 * time, and rate and ETA from a moving window once a few items are done. On a terminal it redraws
 * one line (at most 10 times a second); elsewhere it prints a plain line at the start, at every
 * 10% and at least every `intervalSeconds` while items complete, and at the end.
 */
export class Progress {
  private done: number;
  private readonly startDone: number;
  private readonly t0: number;
  private readonly writer: ProgressWriter;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly intervalMs: number;
  /** (time, done) after each update, oldest first: the moving window the rate comes from. */
  private readonly history: { t: number; done: number }[] = [];
  private lastDraw = -Infinity;
  private lastLine = -Infinity;
  private lastDecile: number;
  private printedDone = -1;
  private finished = false;

  constructor(
    private readonly label: string,
    private total: number,
    options: ProgressOptions = {},
  ) {
    this.writer = options.writer ?? process.stderr;
    this.tty = options.tty ?? Boolean(this.writer.isTTY);
    this.now = options.now ?? (() => performance.now());
    this.intervalMs = 1000 * (options.intervalSeconds ?? progressIntervalSeconds());
    this.done = this.startDone = Math.max(0, options.start ?? 0);
    this.t0 = this.now();
    this.history.push({ t: this.t0, done: this.done });
    this.lastDecile = this.decile();
    // Say where it starts: a log shows the run began, and from where (a resumed run).
    this.draw(this.t0, true);
  }

  /** One more item (or n) done. */
  tick(n = 1): void {
    this.update(this.done + n);
  }

  /** `done` items of `total` are done now (counting those done before this process). */
  update(done: number, total = this.total): void {
    if (this.finished) return;
    this.done = done;
    this.total = total;
    const t = this.now();
    this.history.push({ t, done });
    if (this.history.length > HISTORY) this.history.shift();
    this.draw(t, false);
  }

  /** The last line (a terminal gets its newline); safe to call twice. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const t = this.now();
    if (this.tty) this.writer.write(`\r${this.line(t)}\x1b[K\n`);
    else if (this.printedDone !== this.done) this.writer.write(`${this.line(t)}\n`);
  }

  /** Items per second over the moving window, or undefined until RATE_MIN_SAMPLES items are done here. */
  rate(t = this.now()): number | undefined {
    if (this.done - this.startDone < RATE_MIN_SAMPLES) return undefined;
    const h = this.history;
    // The oldest entry inside the window, but never fewer than RATE_MIN_SAMPLES items back.
    let i = h.findIndex((e) => t - e.t <= RATE_WINDOW_MS);
    if (i < 0) i = h.length - 1;
    while (i > 0 && this.done - h[i]!.done < RATE_MIN_SAMPLES) i--;
    const dt = (t - h[i]!.t) / 1000;
    const dn = this.done - h[i]!.done;
    return dt > 0 && dn > 0 ? dn / dt : undefined;
  }

  private decile(): number {
    return Math.floor((10 * this.done) / Math.max(1, this.total));
  }

  private draw(t: number, first: boolean): void {
    if (this.tty) {
      if (first || t - this.lastDraw >= 100 || this.done >= this.total) {
        this.lastDraw = t;
        this.writer.write(`\r${this.line(t)}\x1b[K`);
      }
      return;
    }
    const decile = this.decile();
    if (first || decile > this.lastDecile || t - this.lastLine >= this.intervalMs || (this.done >= this.total && this.printedDone !== this.done)) {
      this.lastDecile = Math.max(decile, this.lastDecile);
      this.lastLine = t;
      this.printedDone = this.done;
      this.writer.write(`${this.line(t)}\n`);
    }
  }

  line(t = this.now()): string {
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
    const parts = [`${this.label} [${bar}] ${this.done}/${this.total} ${(100 * frac).toFixed(0)}%`];
    if (this.startDone > 0) parts.push(`(${this.startDone} resumed)`);
    parts.push(`elapsed ${formatDuration((t - this.t0) / 1000)}`);
    const rate = this.rate(t);
    if (rate !== undefined) {
      parts.push(rate >= 1 ? `${rate.toFixed(1)}/s` : `${(60 * rate).toFixed(1)}/min`);
      if (this.done < this.total) parts.push(`ETA ${formatDuration((this.total - this.done) / rate)}`);
    }
    return parts.join(" ");
  }
}
