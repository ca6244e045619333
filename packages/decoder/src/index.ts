export * from "./types.js";
export { MaxflowGraph } from "./maxflow.js";
export { ColourGmm } from "./gmm.js";
export { validatePrompt } from "./prompt.js";
export { BoxDecoder } from "./box.js";
export { GraphCutDecoder, GRAPHCUT_DEFAULTS, type GraphCutParams } from "./graphcut.js";
export { createDecoder, decoderNames, describeDecoders, registerDecoder } from "./registry.js";
