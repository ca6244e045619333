export { Progress } from "./progress.js";
export { runCli } from "./cli.js";
export { ExitStatus } from "./exit-status.js";
