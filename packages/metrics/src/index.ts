export * from "./segmentation.js";
export * from "./points.js";
export * from "./timing.js";
export * from "./bootstrap.js";
export * from "./boxes.js";
