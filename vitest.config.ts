import { readdirSync, existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// Tests run against the TypeScript sources, not dist/, so `pnpm test` never sees a stale build.
// Every entry of a package's exports map (".", "./testing") gets an alias from its public name to
// the source file it is built from (dist/x.js -> src/x.ts), and every package a project of its
// own so `--project core` works.
const root = fileURLToPath(new URL(".", import.meta.url));
const packages = readdirSync(`${root}packages`).filter((d) => existsSync(`${root}packages/${d}/package.json`));
type Exports = Record<string, string | { default?: string }>;
const alias = packages.flatMap((d) => {
  const exports = (JSON.parse(readFileSync(`${root}packages/${d}/package.json`, "utf8")) as { exports?: Exports }).exports ?? {};
  return Object.entries(exports).flatMap(([sub, target]) => {
    const file = typeof target === "string" ? target : target.default;
    if (!file?.startsWith("./dist/") || !file.endsWith(".js")) return [];
    const name = sub === "." ? `@resagent/${d}` : `@resagent/${d}/${sub.slice(2)}`;
    // Exact-match patterns: "@resagent/decoder" must not swallow "@resagent/decoder/testing".
    const find = new RegExp(`^${name.replace(/[/.]/g, "\\$&")}$`);
    return [{ find, replacement: `${root}packages/${d}/src/${file.slice("./dist/".length, -".js".length)}.ts` }];
  });
});

// Slow test files get a project of their own, `<package>-slow` (run by `pnpm test` and CI,
// skipped by `pnpm test:fast`): the smoke run of every experiment takes much of the suite's time.
const slow: Record<string, string[]> = { experiments: ["src/experiments.test.ts", "src/decoders-experiment.test.ts"] };
const slowFiles = Object.entries(slow).flatMap(([d, files]) => files.map((f) => `${root}packages/${d}/${f}`));

/**
 * Vitest orders files by their last durations, and files it has not timed yet (a fresh clone) by
 * size, largest first; the slow files are short files that run long, so a first run started them
 * last and ended on one worker while the other idled. They go first (the rest keep vitest's order).
 */
class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (f: TestSpecification) => slowFiles.includes(f.moduleId);
    return [...sorted.filter(first), ...sorted.filter((f) => !first(f))];
  }
}
// Tests that run experiments with a "learned (tfjs)" row need the learned backend registered and a
// model to load: untrained fixtures written once per run (see packages/learned/src/test-setup.ts).
const learnedSetup = [`${root}packages/learned/src/test-setup.ts`];
const setupFiles: Record<string, string[]> = { experiments: learnedSetup, cli: learnedSetup };
// A worker runs its test files one after another in one module graph (isolate: false): each file
// would otherwise import and compile every module it uses afresh, a large share of the suite's
// CPU. So a file leaves the process as it found it: vitest.file-setup.ts puts its environment
// variables back, and a test that registers a stand-in (a fake scorer, a training hook) undoes it.
const fileSetup = `${root}vitest.file-setup.ts`;

const project = (name: string, dir: string, include: string[], exclude: string[], setup: string[], isolate = false) => ({
  resolve: { alias },
  test: { name, root: dir, include, exclude: [...configDefaults.exclude, ...exclude], setupFiles: [fileSetup, ...setup], isolate, testTimeout: 60_000 },
});

// Vitest gives each project workers of its own, and each compiles every module its files use. A
// run over everything (`pnpm test`: no --project) is therefore one project, so that both workers'
// module graphs serve every package's files; `--project <package>` (the packages' own test
// scripts, `pnpm test:fast`) picks from the per-package projects.
// Files that check what a fresh process has registered (no learned backend before
// @resagent/learned is imported) keep a project and module graph of their own.
const everything = !process.argv.some((a) => a === "--project" || a.startsWith("--project="));
const freshProcess = ["packages/mllm/src/mllm.test.ts"];
const allPackages = [project("all", root, ["packages/*/src/**/*.test.ts"], freshProcess, learnedSetup), project("fresh-process", root, freshProcess, [], [], true)];

// A JSON report per vitest run when RESAGENT_TEST_REPORT names a folder (CI), named after the
// package and the script that ran it (`pnpm test` runs one vitest over every project).
const reportDir = process.env.RESAGENT_TEST_REPORT;
const reportName = `${(process.env.npm_package_name ?? "resagent").replace("@resagent/", "")}-${(process.env.npm_lifecycle_event ?? "test").replace(":", "-")}`;

export default defineConfig({
  resolve: { alias },
  test: {
    // One scene folder for the whole run (see vitest.global-setup.ts).
    globalSetup: [`${root}vitest.global-setup.ts`],
    // Vitest's default keeps a core free for its main process; on a 2-core machine that is one
    // worker for everything, and test files mostly compute or wait on sockets, not on the main process.
    maxWorkers: availableParallelism(),
    sequence: { sequencer: SlowFirst },
    ...(reportDir ? { reporters: ["default", "json"], outputFile: { json: `${reportDir}/${reportName}.json` } } : {}),
    projects: everything
      ? allPackages
      : packages.flatMap((d) => [
          project(d, `${root}packages/${d}`, ["src/**/*.test.ts"], slow[d] ?? [], setupFiles[d] ?? []),
          ...(slow[d] ? [project(`${d}-slow`, `${root}packages/${d}`, slow[d], [], setupFiles[d] ?? [])] : []),
        ]),
  },
});
