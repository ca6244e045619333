export * from "./config.js";
export { Pipeline, ComponentPool, pipelineStandIns } from "./pipeline.js";
export * from "./stages.js";
export { ROUTER_NAMES, ROUTER_DEFAULTS, ROUTER_DESCRIPTIONS, routeBoxes, type RouterName, type RouterOptions, type Routed } from "./routers.js";
