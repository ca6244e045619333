import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeReferFixture } from "@resagent/data/testing";
import { tinyDecoder, tinyEncoder } from "@resagent/decoder/testing";

/**
 * For tests of the real profile: REFER files (written by python3) whose images are a red ramp (what
 * the tiny encoder sees) with a blue level per image (so each has its own content key), and a
 * `sam2/` folder with tiny ORT-style SAM2 ONNX models (3 mask outputs). Returns the data root.
 */
export async function makeRealProfileFixture(): Promise<{ data: string; sam: string }> {
  const data = await makeReferFixture((k) => {
    const px = new Uint8Array(64 * 48 * 3);
    for (let i = 0; i < 64 * 48; i++) [px[3 * i], px[3 * i + 2]] = [(i % 64) * 4, 40 * k];
    return { width: 64, height: 48, data: px };
  });
  const sam = join(data, "sam2");
  await mkdir(sam);
  await writeFile(join(sam, "sam2.encoder.onnx"), tinyEncoder("ort"));
  await writeFile(join(sam, "sam2.decoder.onnx"), tinyDecoder("ort", 3));
  return { data, sam };
}
