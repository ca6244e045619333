export { Progress } from "./progress.js";
export { runCli, ExitStatus } from "./cli.js";
