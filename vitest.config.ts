import { readdirSync, existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

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

export default defineConfig({
  resolve: { alias },
  test: {
    projects: packages.map((d) => ({
      resolve: { alias },
      test: {
        name: d,
        root: `${root}packages/${d}`,
        include: ["src/**/*.test.ts"],
        testTimeout: 60_000,
      },
    })),
  },
});
