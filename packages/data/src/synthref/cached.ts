import { open, readFile } from "node:fs/promises";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** An IEND chunk: length 0, type "IEND", its CRC. Every complete PNG ends with these 12 bytes. */
const PNG_END = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** Why a cached PNG is unusable (not a PNG, or cut short), or undefined when it is whole. */
async function pngProblem(path: string): Promise<string | undefined> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    if (size < PNG_SIGNATURE.length + PNG_END.length) return `${path} is ${size} bytes, too short for a PNG`;
    const head = Buffer.alloc(PNG_SIGNATURE.length);
    const tail = Buffer.alloc(PNG_END.length);
    await fh.read(head, 0, head.length, 0);
    await fh.read(tail, 0, tail.length, size - tail.length);
    if (!head.equals(PNG_SIGNATURE)) return `${path} is not a PNG`;
    if (!tail.equals(PNG_END)) return `${path} is a truncated PNG (no IEND chunk at its end)`;
    return undefined;
  } finally {
    await fh.close();
  }
}

/** The fields of a cached record that loading relies on. */
function recordProblem(v: unknown): string | undefined {
  const r = v as Record<string, unknown> | null;
  if (typeof r !== "object" || r === null || Array.isArray(r)) return "not a JSON object";
  for (const k of ["version", "ref", "width", "height"]) if (typeof r[k] !== "number") return `field "${k}" is not a number`;
  for (const k of ["box", "mask", "flags"]) if (typeof r[k] !== "object" || r[k] === null) return `field "${k}" is missing`;
  if (!Array.isArray(r.distractorBoxes)) return `field "distractorBoxes" is not a list`;
  if (!Array.isArray(r.sentences) || !r.sentences.every((s) => typeof (s as { text?: unknown } | null)?.text === "string")) return `field "sentences" is not a list of sentences`;
  return undefined;
}

/**
 * A cached ref (its record and image), or why it cannot be used: a record cut short or otherwise
 * unreadable, an image that is not a whole PNG. The caller regenerates both, with a warning.
 */
export async function readCachedRef<R>(jsonPath: string, pngPath: string): Promise<{ record: R } | { problem: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(jsonPath, "utf8"));
  } catch (err) {
    return { problem: `${jsonPath} is not valid JSON (${(err as Error).message})` };
  }
  const bad = recordProblem(parsed);
  if (bad) return { problem: `${jsonPath}: ${bad}` };
  const png = await pngProblem(pngPath);
  if (png) return { problem: png };
  return { record: parsed as R };
}
