import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * One synthetic-scene folder for the whole test run. Test files keep a cache folder of their own
 * (records, response caches) but link its `synthref/` here (`testCacheDir` in
 * @resagent/data/testing), so a scene is generated once per run rather than once per file. Scenes
 * are pure in their options and written atomically, so files that share them see the same bytes.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "resagent-test-scenes-"));
  process.env.RESAGENT_TEST_SCENES = dir;
  return async () => rm(dir, { recursive: true, force: true });
}
