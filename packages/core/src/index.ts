export * from "./types.js";
export * from "./errors.js";
export * from "./random.js";
export * from "./hash.js";
export * from "./coco.js";
export * from "./mask.js";
export * from "./image.js";
export * from "./fs.js";
