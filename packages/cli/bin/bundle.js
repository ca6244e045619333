// The CLI bundled from the TypeScript sources (rolldown), for `pnpm resagent` and its shortcuts
// (from-source.js). Rebuilt only when a source changed since the last bundle.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
const root = join(cliDir, "..", "..");

/** The global key under which the graph-cut decode threads find their script (packages/decoder/src/graphcut/threads.ts). */
export const GRAPHCUT_THREAD_KEY = Symbol.for("resagent.decoder.graphcut-thread");

/** Every package's name → the source file each export is built from (dist/x.js -> src/x.ts), as vitest.config.ts maps them. */
function aliases() {
  const alias = {};
  for (const d of readdirSync(join(root, "packages"))) {
    const pj = join(root, "packages", d, "package.json");
    if (!existsSync(pj)) continue;
    const { name, exports = {} } = JSON.parse(readFileSync(pj, "utf8"));
    for (const [sub, target] of Object.entries(exports)) {
      const file = typeof target === "string" ? target : target.default;
      if (!file?.startsWith("./dist/") || !file.endsWith(".js")) continue;
      alias[sub === "." ? name : `${name}/${sub.slice(2)}`] = join(root, "packages", d, "src", `${file.slice("./dist/".length, -".js".length)}.ts`);
    }
  }
  return alias;
}

/** What the bundle is made from: every package's sources and manifest, the lockfile and this file (paths, sizes, mtimes). */
function inputsStamp() {
  const h = createHash("sha256");
  const add = (p) => {
    const s = statSync(p);
    h.update(`${p}\0${s.size}\0${s.mtimeMs}\n`);
  };
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) add(p);
    }
  };
  for (const d of readdirSync(join(root, "packages")).sort()) {
    const src = join(root, "packages", d, "src");
    if (existsSync(src)) walk(src);
    const pj = join(root, "packages", d, "package.json");
    if (existsSync(pj)) add(pj);
  }
  for (const f of [join(root, "pnpm-lock.yaml"), fileURLToPath(import.meta.url)]) if (existsSync(f)) add(f);
  return h.digest("hex");
}

/**
 * One module of the workspace bundled from its TypeScript sources into `file` (ESM, with a source
 * map): every @resagent package inlined from its sources, every other package left outside.
 */
export async function bundleModule(input, file, alias = aliases()) {
  const { rolldown } = await import("rolldown");
  const build = await rolldown({
    input,
    platform: "node",
    resolve: { alias },
    logLevel: "warn",
    plugins: [
      {
        name: "resagent-from-source",
        // Other packages' modules stay outside the bundle, loaded from where the package that
        // imports them resolves them (pnpm gives each package only its own dependencies).
        async resolveId(source, importer) {
          if (!importer || source.startsWith("@resagent/") || source.startsWith(".") || source.startsWith("/") || source.startsWith("node:")) return null;
          const r = await this.resolve(source, importer, { skipSelf: true });
          return r ? { id: r.id, external: true } : null;
        },
        // A module's own location (files beside it, createRequire) is its source file's, as under vitest.
        transform(code, id) {
          if (!code.includes("import.meta.url")) return null;
          return { code: code.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(id).href)), map: null };
        },
      },
    ],
  });
  try {
    await build.write({ file, format: "esm", sourcemap: true });
  } finally {
    await build.close();
  }
}

async function bundle(outDir, files, stamp) {
  const { mkdir, rename, rm, writeFile } = await import("node:fs/promises");
  const alias = aliases();
  // Written beside, then renamed (maps first, the CLI last): a concurrent run never imports half a bundle.
  const tmp = join(outDir, `.tmp-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  const entries = [
    [join(root, "packages", "decoder", "src", "graphcut", "thread.ts"), files.graphcutThread],
    [join(cliDir, "src", "main.ts"), files.cli],
  ];
  for (const [input, file] of entries) await bundleModule(input, join(tmp, file.slice(outDir.length + 1)), alias);
  for (const [, file] of entries) {
    const name = file.slice(outDir.length + 1);
    await rename(join(tmp, `${name}.map`), `${file}.map`);
    await rename(join(tmp, name), file);
  }
  await rm(tmp, { recursive: true, force: true });
  await writeFile(join(outDir, "inputs.sha256"), stamp);
}

/**
 * The bundle in `outDir` (default packages/cli/bundle), built when missing or older than the
 * sources: `cli`, the CLI; `graphcutThread`, the script of graph-cut's decode threads, which need a
 * file of their own (the CLI's process names it under GRAPHCUT_THREAD_KEY before loading the CLI).
 */
export async function ensureBundle(outDir = join(cliDir, "bundle")) {
  const stamp = inputsStamp();
  // The thread script is named by the sources it was built from: a run that is still going loads
  // it when it starts a thread, perhaps long after a later build replaced the CLI file, and must
  // get the code its own process runs (its records carry that code's hash).
  const files = { cli: join(outDir, "resagent.mjs"), graphcutThread: join(outDir, `graphcut-thread-${stamp.slice(0, 16)}.mjs`) };
  const stampFile = join(outDir, "inputs.sha256");
  if (!existsSync(files.cli) || !existsSync(files.graphcutThread) || !existsSync(stampFile) || readFileSync(stampFile, "utf8") !== stamp) {
    await bundle(outDir, files, stamp);
    pruneThreadScripts(outDir, files.graphcutThread);
  }
  return { cli: pathToFileURL(files.cli).href, graphcutThread: pathToFileURL(files.graphcutThread).href };
}

/** Thread scripts of earlier builds, a week after they were written: no run still needs them by then. */
function pruneThreadScripts(outDir, current) {
  const weekAgo = Date.now() - 7 * 24 * 3600 * 1000;
  for (const f of readdirSync(outDir)) {
    const p = join(outDir, f);
    if (!/^graphcut-thread-[0-9a-f]+\.mjs(\.map)?$/.test(f) || p.startsWith(current)) continue;
    try {
      if (statSync(p).mtimeMs < weekAgo) rmSync(p, { force: true });
    } catch {
      // gone already (another build pruned it)
    }
  }
}
