export * from "./config.js";
export { Pipeline, ComponentPool, type SampleRecord, type LoadedSample } from "./pipeline.js";
