export { generateVbr, histogramSvg, vbrStamp, VBR_DEFAULTS, VBR_DRAW, type VbrOptions, type VbrRecord, type VbrSummary, type VbrSource } from "./vbr.js";
export { cocoToSa1b, type Sa1bOptions, type Sa1bSummary, type Sa1bAnnotation } from "./sa1b.js";
export { streamTopLevelArrays } from "./jsonstream.js";
export {
  generatePointValue,
  paintValueMap,
  valueColour,
  poolOf,
  candidateValues,
  POINT_VALUE_DEFAULTS,
  POINT_VALUE_DRAW,
  type PointValueOptions,
  type PointValueRecord,
  type PointValueCandidate,
  type PointValueSummary,
  type PointOrigin,
} from "./point-value.js";
