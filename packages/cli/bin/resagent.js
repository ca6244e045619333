#!/usr/bin/env node
// The `resagent` command that `pnpm exec resagent` and `npx resagent` find (linked into
// node_modules/.bin by `pnpm install`). It runs the last build; `pnpm resagent ...` builds first.
import { existsSync } from "node:fs";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("error: resagent is not built yet: run `pnpm build` in the repository (or `pnpm resagent ...`, which builds first)");
  process.exit(2);
}
await import(main.href);
