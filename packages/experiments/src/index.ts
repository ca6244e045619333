export { Plot, polyline } from "./plots/svg.js";
export { fig4Plot, FIG4_DEFAULTS, type Fig4Options } from "./plots/fig4.js";
