import { relative } from "node:path";
import { InputError } from "@resagent/core";
import { experimentNames, findRoot, listPublished, loadExperiment, publishedFrom, regenerateDocs, writePublished, type BlockRenderer } from "@resagent/experiments";
import type { CommandModule } from "yargs";
import { ExitStatus } from "../cli.js";

export const publishCommand: CommandModule<object, { path?: string; name?: string; allowDirty: boolean }> = {
  command: "publish [path]",
  describe: "Publish a finished run (or a bench result JSON) into results/published/<name>.json, the committed manifests the docs' result tables are generated from; then run `resagent docs --write`. Without a path: list what is published",
  builder: (y) =>
    y
      .positional("path", { type: "string", describe: "a run folder (results/<experiment>/<run>) or a bench result (results/bench/latest.json)" })
      .option("name", { type: "string", describe: "the manifest's name, as docs blocks name it (default: the experiment's name, or the bench file's)" })
      .option("allow-dirty", { type: "boolean", default: false, describe: "publish a run made from a tree with uncommitted changes (a draft: its commit says -dirty)" }) as never,
  handler: async (args) => {
    const root = findRoot();
    if (!args.path) {
      for (const name of listPublished(root)) console.log(name);
      return;
    }
    const p = publishedFrom(root, args.path, { ...(args.name ? { name: args.name } : {}), allowDirty: args.allowDirty });
    const file = await writePublished(root, p);
    console.log(`published ${p.source} as ${relative(root, file)}; now run: pnpm resagent docs --write`);
  },
};

/** What the docs command needs to know of the command line it documents (given, so it does not import it). */
export interface CommandDocs {
  /** Each command's name and one-line description, in `--help` order. */
  commands(): { name: string; describe: string }[];
  /** The `--help` text of `argv` (e.g. ["merge"]), at a fixed width. */
  help(argv: string[]): Promise<string>;
}

/**
 * Blocks generated from the command line itself: `<!-- help:index -->` (every command and what
 * it does) and `<!-- help:<command> -->` (its `--help`), so the command reference cannot drift
 * from the options the code declares.
 */
async function helpRenderer(cli: CommandDocs): Promise<BlockRenderer> {
  const commands = cli.commands();
  const texts = new Map<string, string>();
  for (const c of commands) texts.set(c.name, await cli.help([c.name]));
  return (arg, { where }) => {
    if (arg === "index") return `| command | what it does |\n|---|---|\n${commands.map((c) => `| [\`${c.name}\`](#${c.name}) | ${c.describe.replace(/\|/g, "\\|")} |`).join("\n")}\n`;
    const text = texts.get(arg);
    if (text === undefined) throw new InputError(`${where}: no command "${arg}" (known: index, ${commands.map((c) => c.name).join(", ")})`);
    return `\`\`\`text\n${text.trimEnd()}\n\`\`\`\n`;
  };
}

/** `<!-- experiments:index -->`: every experiment file with its title and description, as the files state them. */
function experimentsRenderer(root: string): BlockRenderer {
  return (arg, { where }) => {
    if (arg !== "index") throw new InputError(`${where}: expected <!-- experiments:index -->`);
    const rows = experimentNames(root).map((n) => {
      const { config } = loadExperiment(n, { root });
      const cell = (t: string) => t.replace(/\s+/g, " ").trim().replace(/\|/g, "\\|");
      return `| \`${n}\` | ${cell(config.title)} | ${cell(config.description ?? "")} |`;
    });
    return `| \`pnpm exp <name>\` | title | what it runs |\n|---|---|---|\n${rows.join("\n")}\n`;
  };
}

export function makeDocsCommand(cli: CommandDocs): CommandModule<object, { write: boolean; check: boolean }> {
  return {
    command: "docs",
    describe: "Regenerate the generated blocks of README.md and docs/*.md: result tables (<!-- results:<name> -->, from results/published/) and the command reference (<!-- help:<command> -->)",
    builder: (y) =>
      y
        .option("write", { type: "boolean", default: false, describe: "rewrite the stale blocks" })
        .option("check", { type: "boolean", default: false, describe: "exit 1 when a block is stale (CI)" }) as never,
    handler: async (args) => {
      if (args.write && args.check) throw new InputError("--write and --check: give one (write the blocks, or check them)");
      const root = findRoot();
      const files = await regenerateDocs(root, { check: !args.write, renderers: { help: await helpRenderer(cli), experiments: experimentsRenderer(root) } });
      let stale = 0;
      for (const f of files) {
        if (f.stale) stale++;
        console.log(`${f.stale ? (args.write ? "rewrote" : "stale") : "up to date"}: ${relative(root, f.file)} (${f.blocks} generated block${f.blocks === 1 ? "" : "s"})`);
      }
      if (stale && !args.write) {
        console.log("run: pnpm resagent docs --write");
        if (args.check) throw new ExitStatus(1);
      }
    },
  };
}
