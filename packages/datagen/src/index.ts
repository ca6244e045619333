export { generateVbr, histogramSvg, vbrStamp, VBR_DEFAULTS, VBR_DRAW, type VbrOptions, type VbrRecord, type VbrSummary, type VbrSource } from "./vbr.js";
export { cocoToSa1b, type Sa1bOptions, type Sa1bSummary, type Sa1bAnnotation } from "./sa1b.js";
export { streamTopLevelArrays } from "./jsonstream.js";
