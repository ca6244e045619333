#!/usr/bin/env node
// `pnpm resagent ...` and its shortcuts (`pnpm exp`, `pnpm merge`, ...): run the CLI from the
// TypeScript sources. The packages are bundled into one file (rolldown: about a second, and only
// when a source changed since the last bundle), then run in this process. Type-checking is not
// on this path: `pnpm typecheck` and `pnpm test` do it. `pnpm exec resagent` runs the tsc build.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
const root = join(cliDir, "..", "..");
const outDir = join(cliDir, "bundle");
const out = join(outDir, "resagent.mjs");
const stampFile = join(outDir, "inputs.sha256");

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

async function bundle(stamp) {
  const { rolldown } = await import("rolldown");
  const { mkdir, rename, rm, writeFile } = await import("node:fs/promises");
  const alias = aliases();
  const build = await rolldown({
    input: join(cliDir, "src", "main.ts"),
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
  // Written beside, then renamed (map first): a concurrent run never imports half a bundle.
  const tmp = join(outDir, `.tmp-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  await build.write({ file: join(tmp, "resagent.mjs"), format: "esm", sourcemap: true });
  await build.close();
  await rename(join(tmp, "resagent.mjs.map"), `${out}.map`);
  await rename(join(tmp, "resagent.mjs"), out);
  await rm(tmp, { recursive: true, force: true });
  await writeFile(stampFile, stamp);
}

const stamp = inputsStamp();
if (!existsSync(out) || !existsSync(stampFile) || readFileSync(stampFile, "utf8") !== stamp) await bundle(stamp);
// Stack traces name the TypeScript sources.
process.setSourceMapsEnabled(true);
await import(pathToFileURL(out).href);
