/**
 * A one-line progress bar on stderr with rate and ETA. Quiet when stderr is not a TTY (CI, pipes),
 * where it prints a plain line every 10% instead, so logs stay readable.
 */
export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  tick(n = 1): void {
    this.done += n;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw > 100 || this.done === this.total) {
        this.lastDraw = now;
        process.stderr.write(`\r${this.line(now)}\x1b[K`);
      }
    } else {
      const decile = Math.floor((10 * this.done) / Math.max(1, this.total));
      if (decile !== this.lastDecile && (decile % 5 === 0 || this.done === this.total)) {
        this.lastDecile = decile;
        process.stderr.write(`${this.line(now)}\n`);
      }
    }
  }

  finish(): void {
    if (this.tty) process.stderr.write(`\r${this.line(performance.now())}\x1b[K\n`);
  }

  private line(now: number): string {
    const secs = (now - this.start) / 1000;
    const rate = this.done / Math.max(secs, 1e-9);
    const frac = this.total ? this.done / this.total : 1;
    const width = 24;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
    const eta = rate > 0 ? (this.total - this.done) / rate : Infinity;
    return `${this.label} [${bar}] ${this.done}/${this.total} ${rate.toFixed(1)}/s ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)}s` : "?"}`;
  }
}
