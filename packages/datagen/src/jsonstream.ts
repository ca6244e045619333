import { createReadStream } from "node:fs";
import { InputError } from "@resagent/core";

/**
 * Stream the elements of top-level arrays of a large JSON object (COCO's "images",
 * "annotations") without parsing the whole file: each element's text is cut out by a small
 * bracket/string scanner and parsed alone. Memory stays at one element plus one read chunk.
 */
export async function streamTopLevelArrays(file: string, keys: readonly string[], onItem: (key: string, item: unknown) => void | Promise<void>): Promise<{ found: Set<string> }> {
  const found = new Set<string>();
  /** The first character that is not white space: the top level must be an object. */
  let opened = false;
  let depth = 0;
  let inString = false;
  let escape = false;
  let keyBuf: string | null = null;
  let lastKey = "";
  let arrayKey: string | null = null;
  let capture: string[] | null = null;
  let captureStart = -1;
  let offset = 0;
  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      if (capture) captureStart = 0;
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk.charCodeAt(i);
        if (!opened) {
          if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) continue;
          if (c !== 123) throw new InputError(`expected a JSON object at the top level, found ${JSON.stringify(chunk[i])} at character ${offset + i}`, { file });
          opened = true;
        }
        if (inString) {
          if (escape) escape = false;
          else if (c === 92) escape = true;
          else if (c === 34) {
            inString = false;
            if (keyBuf !== null) {
              lastKey = keyBuf;
              keyBuf = null;
            }
          } else if (keyBuf !== null) keyBuf += chunk[i];
          continue;
        }
        switch (c) {
          case 34: // "
            inString = true;
            if (depth === 1 && !capture) keyBuf = "";
            break;
          case 123: // {
          case 91: // [
            depth++;
            if (depth === 2 && c === 91 && keys.includes(lastKey)) {
              arrayKey = lastKey;
              found.add(lastKey);
            }
            if (depth === 3 && arrayKey && c === 123 && !capture) {
              capture = [];
              captureStart = i;
            }
            break;
          case 125: // }
          case 93: // ]
            if (depth === 3 && capture && c === 125) {
              capture.push(chunk.slice(captureStart, i + 1));
              const text = capture.join("");
              capture = null;
              let item: unknown;
              try {
                item = JSON.parse(text);
              } catch (err) {
                throw new InputError(`bad element in "${arrayKey}" near character ${offset + i}: ${(err as Error).message}`, { file });
              }
              await onItem(arrayKey!, item);
            }
            depth--;
            if (depth === 1) arrayKey = null;
            if (depth < 0) throw new InputError(`unbalanced brackets at character ${offset + i}`, { file });
            break;
        }
      }
      if (capture) capture.push(chunk.slice(captureStart));
      offset += chunk.length;
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read JSON: ${(err as Error).message}`, { file });
  }
  if (!opened) throw new InputError("the file is empty (expected a JSON object)", { file });
  if (depth !== 0 || inString) throw new InputError(`file ends inside ${inString ? "a string" : "an object or array"} (truncated?)`, { file });
  return { found };
}
