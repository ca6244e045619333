/**
 * Test helpers published as `@resagent/data/testing`: a tiny REFER dataset on disk, pickled the
 * way Python 2 wrote REFER's files (by `test/make_refer_fixture.py`, which needs python3).
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync } from "node:fs";
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodePng, type RgbImage } from "@resagent/core";

let python: boolean | undefined;

/** Whether python3 (with its pickle module) can run here: the REFER fixture needs it. Asked once per process. */
export function pythonAvailable(): boolean {
  if (python === undefined) {
    try {
      execFileSync("python3", ["-c", "import pickle"], { stdio: "ignore" });
      python = true;
    } catch {
      python = false;
    }
  }
  return python;
}

/** COCO image ids the fixture's refs point at. */
export const REFER_FIXTURE_IMAGE_IDS = [1, 2, 3] as const;

/**
 * Write the REFER fixture (refcoco and refcoco+ pickles, instances.json, expected.json) and its
 * 64x48 images into a new temporary folder; returns the folder (a LISA-style data root).
 * `image(k)` draws image k (default: a flat grey per image).
 */
export async function makeReferFixture(image: (k: number) => RgbImage = (k) => ({ width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(40 * k) })): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "resagent-refer-"));
  writeReferFiles(root);
  const dir = referImageDir(root);
  await mkdir(dir, { recursive: true });
  for (const k of REFER_FIXTURE_IMAGE_IDS) await writeFile(join(dir, `COCO_train2014_${String(k).padStart(12, "0")}.jpg`), await encodePng(image(k)));
  return root;
}

/** Where REFER's COCO train2014 images live under a LISA-style data root. */
export function referImageDir(root: string): string {
  return join(root, "refer_seg", "images", "mscoco", "images", "train2014");
}

/**
 * Only the REFER files under `root` (no images): the small fixture, or with `refs` a
 * RefCOCO-sized one (train split, for benchmarks).
 */
export function writeReferFiles(root: string, refs?: number): void {
  const write = (dir: string): void => void execFileSync("python3", [fileURLToPath(new URL("../test/make_refer_fixture.py", import.meta.url)), dir, ...(refs ? [String(refs)] : [])], { stdio: "ignore" });
  if (refs) return write(root);
  // The small fixture is the same every time: python writes it once per process, later calls copy it.
  if (!smallFixture) {
    const dir = mkdtempSync(join(tmpdir(), "resagent-refer-files-"));
    write(dir);
    smallFixture = dir;
  }
  cpSync(smallFixture, root, { recursive: true });
}
let smallFixture: string | undefined;

/**
 * A new cache folder for a test file (its RESAGENT_CACHE_DIR): records and response caches of its
 * own, and the test run's shared synthref scenes (`RESAGENT_TEST_SCENES`, set by the vitest global
 * setup) linked in as its `synthref/`, so each scene is generated once per run. Outside such a run
 * the folder is simply new.
 */
export async function testCacheDir(prefix = "resagent-cache-"): Promise<string> {
  return linkTestScenes(await mkdtemp(join(tmpdir(), prefix)));
}

/** Make `dir` (created when missing) use the test run's shared synthref scenes; returns `dir`. */
export async function linkTestScenes(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const shared = process.env.RESAGENT_TEST_SCENES;
  if (shared) await symlink(shared, join(dir, "synthref"), "dir");
  return dir;
}
