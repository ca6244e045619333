#!/usr/bin/env node
// `pnpm resagent ...` and its shortcuts (`pnpm exp`, `pnpm merge`, ...): run the CLI from the
// TypeScript sources. The packages are bundled (bundle.js; rolldown: about a second, and only
// when a source changed since the last bundle), then run in this process. Type-checking is not
// on this path: `pnpm typecheck` and `pnpm test` do it. `pnpm exec resagent` runs the tsc build.
import { GRAPHCUT_THREAD_KEY, ensureBundle } from "./bundle.js";

const bundle = await ensureBundle();
// Stack traces name the TypeScript sources.
process.setSourceMapsEnabled(true);
globalThis[GRAPHCUT_THREAD_KEY] = bundle.graphcutThread;
await import(bundle.cli);
