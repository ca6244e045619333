import { boxToMask } from "@resagent/core";
import { validatePrompt } from "./prompt.js";
import type { DecodeResult, Decoder, DecoderImage, Prompt } from "./types.js";

/** The box itself as the mask: the trivial lower bound every decoder should beat. */
export class BoxDecoder implements Decoder {
  readonly name = "box";
  describe(): string {
    return "box (the prompt box as the mask; no model)";
  }
  async segment({ image }: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
    const p = validatePrompt(image, prompt);
    return { mask: boxToMask(p.box, image.width, image.height), score: 1 };
  }
}
