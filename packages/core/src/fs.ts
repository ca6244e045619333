import { mkdir, rename, writeFile, open } from "node:fs/promises";
import { dirname } from "node:path";

let counter = 0;

/**
 * Write a file so that readers see either the old content or the new, never a torn file:
 * write to a temporary sibling, fsync, then rename over the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${counter++}.tmp`;
  await writeFile(tmp, data);
  const fh = await open(tmp, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
