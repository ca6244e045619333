import { InputError, type Point, type RgbImage } from "@resagent/core";
import type { Prompt } from "./types.js";

function finite(v: number, field: string): void {
  if (!Number.isFinite(v)) throw new InputError(`${v} is not a finite number`, { field });
}

/**
 * Check a prompt against its image before any model sees it. The box is clipped to the image
 * (documented clamp); an empty box, a box with no area inside the image, or a point outside the
 * image is an error naming the offending value.
 */
export function validatePrompt(image: RgbImage, prompt: Prompt): Prompt {
  const { box } = prompt;
  for (const k of ["x1", "y1", "x2", "y2"] as const) finite(box[k], `prompt.box.${k}`);
  if (!(box.x2 > box.x1 && box.y2 > box.y1)) {
    throw new InputError(`box [${box.x1}, ${box.y1}, ${box.x2}, ${box.y2}] is empty; expected x2 > x1 and y2 > y1`, { field: "prompt.box" });
  }
  const clipped = { x1: Math.max(0, box.x1), y1: Math.max(0, box.y1), x2: Math.min(image.width, box.x2), y2: Math.min(image.height, box.y2) };
  if (!(clipped.x2 > clipped.x1 && clipped.y2 > clipped.y1)) {
    throw new InputError(`box [${box.x1}, ${box.y1}, ${box.x2}, ${box.y2}] lies outside the ${image.width}x${image.height} image`, { field: "prompt.box" });
  }
  const check = (pts: Point[], name: string) =>
    pts.map((p, i) => {
      finite(p.x, `prompt.${name}[${i}].x`);
      finite(p.y, `prompt.${name}[${i}].y`);
      if (p.x < 0 || p.y < 0 || p.x > image.width || p.y > image.height) {
        throw new InputError(`point (${p.x}, ${p.y}) is outside the ${image.width}x${image.height} image`, { field: `prompt.${name}[${i}]` });
      }
      return p;
    });
  return { box: clipped, positives: check(prompt.positives, "positives"), negatives: check(prompt.negatives, "negatives") };
}
