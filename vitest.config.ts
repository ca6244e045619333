import { readdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests run against the TypeScript sources, not dist/, so `pnpm test` never sees a stale build.
// Every package gets an alias from its public name to its src/index.ts (the same single entry
// its exports map publishes), and a project of its own so `--project core` works.
const root = fileURLToPath(new URL(".", import.meta.url));
const packages = readdirSync(`${root}packages`).filter((d) => existsSync(`${root}packages/${d}/package.json`));
const alias = Object.fromEntries(packages.map((d) => [`@resagent/${d}`, `${root}packages/${d}/src/index.ts`]));

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
