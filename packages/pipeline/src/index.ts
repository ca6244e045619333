export * from "./config.js";
export { Pipeline, ComponentPool, pipelineStandIns, type SampleRecord, type LoadedSample, type GroundingExpert } from "./pipeline.js";
export { ROUTER_NAMES, ROUTER_DEFAULTS, ROUTER_DESCRIPTIONS, routeBoxes, type RouterName, type RouterOptions, type Routed } from "./routers.js";
