import { afterAll } from "vitest";

/**
 * Runs before every test file. Test files set environment variables (a cache folder of their own,
 * a model folder, a thread count) and, where a worker runs several files in one process, the next
 * file would see them: each file's changes are undone when it ends.
 */
const saved = { ...process.env };
afterAll(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});
