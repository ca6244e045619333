import { runCli } from "./cli.js";

/** What one in-process CLI invocation printed: console lines (and raw stdout writes when captured), stderr writes dropped. */
export interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

/**
 * Run the CLI in this process with its real parser and handlers, capturing `console.log` and
 * `console.error` line by line and swallowing raw stderr writes (progress bars); with `stdout`
 * raw stdout writes join `out` too. For tests: the streams are restored whatever happens.
 */
export async function captureCli(argv: string[], opts: { stdout?: boolean } = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { log: console.log, error: console.error, stderr: process.stderr.write, stdout: process.stdout.write };
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  process.stderr.write = (() => true) as typeof process.stderr.write;
  if (opts.stdout) process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  try {
    return { code: await runCli(argv), out, err };
  } finally {
    console.log = saved.log;
    console.error = saved.error;
    process.stderr.write = saved.stderr;
    process.stdout.write = saved.stdout;
  }
}

/**
 * Wait until `expression` is true in the page, asking it through the DevTools protocol (as
 * `page.evaluate` does) every 100 ms. Playwright's own waitForFunction, when its first check fails,
 * polls by evaluating the expression inside the page, which the report pages' Content-Security-
 * Policy (no unsafe-eval) refuses: the test then failed or passed by timing.
 */
export async function waitInPage(page: { evaluate(expression: string): Promise<unknown> }, expression: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await page.evaluate(expression)) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting in the page for: ${expression}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
