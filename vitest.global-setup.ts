import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * One folder of shared fixtures for the whole test run, removed at its end:
 * - `synthref/`: the synthetic scenes. Test files keep a cache folder of their own (records,
 *   response caches) but link its `synthref/` here (`testCacheDir` in @resagent/data/testing), so
 *   a scene is generated once per run rather than once per file. Scenes are pure in their options
 *   and written atomically, so files that share them see the same bytes.
 * - an untrained verifier and an untrained point-value ranker (packages/learned/src/test-setup.ts),
 *   written by the first test file that needs them.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "resagent-test-fixtures-"));
  process.env.RESAGENT_TEST_SCENES = join(dir, "synthref");
  await mkdir(process.env.RESAGENT_TEST_SCENES);
  process.env.RESAGENT_TEST_FIXTURES = dir;
  return async () => rm(dir, { recursive: true, force: true });
}
